from tests.gateway.conftest import rpc_chain  # noqa: F401  (fixture)
