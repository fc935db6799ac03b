from tests.program.world import training_world, world  # noqa: F401  (fixtures)
