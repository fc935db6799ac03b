"""The aggregator's round: fetch by CID, verify against the chain, judge, finalize.

Participants' bytes are untrusted: whatever they store, the round is judged
to the end and every bad update becomes a verdict with a named reason."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.actions.participant import PreparedUpdate
from client_kit.canonical import canonical_hash, decode_tensors, encode_tensors, tensors_hash
from client_kit.enums import PoolStatus, Reason, Verdict
from client_kit.gateway.embedded import EmbeddedGateway
from offchain.aggregation import make_rule
from offchain.aggregator import judge_round
from offchain.errors import RoundMismatch
from tests.pools import SOL, PoolScenario, filled

# one float32 tensor "w" with dims [0, 2^63]: zero elements, but no numpy shape
HOSTILE_DIMS = bytes.fromhex("4653544b0101000000010077010200000000000000000000000000000080")


def lying(data: bytes, claimed: bytes) -> PreparedUpdate:
    """What a cheating participant sends: `data` stored, `claimed` recorded as its hash."""
    return PreparedUpdate(data, canonical_hash(claimed))


def honest_bytes(data: bytes) -> PreparedUpdate:
    """Bytes stored under their true hash, whatever they are."""
    return PreparedUpdate(data, canonical_hash(data))


async def test_round_judges_every_kind_of_bad_bytes_and_finalizes(tmp_path) -> None:
    # Given a pool in round 1 with six submissions, four of them bad in different ways
    chain = EmbeddedGateway()
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create(max_participants=6)
    await world.fund(SOL)
    honest, honest2, swapper, garbler, hostile, misshaped = [
        await world.new_trainer() for _ in range(6)
    ]
    for trainer in world.trainers:
        await world.join(trainer)
    await world.start()
    await world.submit(honest, filled(world.task, 0.1))
    await world.submit(honest2, filled(world.task, 0.3))
    await world.submit(swapper, lying(encode_tensors(filled(world.task, 9.0)), b"something else"))
    await world.submit(garbler, honest_bytes(b"not tensors at all"))
    await world.submit(hostile, honest_bytes(HOSTILE_DIMS))
    await world.submit(misshaped, {"w": np.zeros(3, np.float32)})

    # When the aggregator judges the round (everyone submitted: no need to wait)
    base = world.task.initial_tensors()
    outcome = await judge_round(
        chain, world.store, world.aggregator, world.key, rule=make_rule("fedavg"), base=base
    )

    # Then the verdicts follow the bytes, and the chain holds the stored model's hash
    verdicts = {j.wallet: (j.verdict, j.reason) for j in outcome.judged}
    rejected = Verdict.REJECTED
    assert verdicts[swapper.wallet.pubkey()] == (rejected, Reason.HASH)
    assert verdicts[garbler.wallet.pubkey()] == (rejected, Reason.MALFORMED)
    assert verdicts[hostile.wallet.pubkey()] == (rejected, Reason.MALFORMED)
    assert verdicts[misshaped.wallet.pubkey()] == (rejected, Reason.SHAPE)
    assert verdicts[honest.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    assert verdicts[honest2.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    state = await world.pool_state()
    assert state.status is PoolStatus.FINISHED and state.global_model_hash == outcome.global_hash
    stored = world.store.get(outcome.global_cid)
    assert canonical_hash(stored) == outcome.global_hash
    expected = {k: v + 0.2 for k, v in base.items()}  # FedAvg of equal-weight 0.1 and 0.3
    for name, value in decode_tensors(stored).items():
        np.testing.assert_allclose(value, expected[name], atol=1e-6)
    swapped = await world.submission_state(swapper)
    assert swapped.verdict is Verdict.REJECTED and swapped.reason is Reason.HASH
    assert swapped.slashed == SOL // 4


async def test_a_base_that_is_not_the_pools_model_is_refused(tmp_path) -> None:
    chain = EmbeddedGateway()
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create()
    wrong = filled(world.task, 1.0)
    assert tensors_hash(wrong) != world.task.initial_weights_hash
    with pytest.raises(RoundMismatch):
        await judge_round(
            chain, world.store, world.aggregator, world.key, rule=make_rule("fedavg"), base=wrong
        )
