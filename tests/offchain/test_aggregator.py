"""The aggregator's round: fetch by CID, verify against the chain, judge, finalize.

Participants' bytes are untrusted: whatever they reveal, the round is judged
to the end and every bad update becomes a verdict with a named reason —
Slashed for an objective fault, Excluded for a rule's doubt. The operator's
own failures (a store that cannot deliver) never become a verdict."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.actions.operator import UpdateUnavailable
from client_kit.actions.participant import PreparedUpdate
from client_kit.canonical import canonical_hash, decode_tensors, encode_tensors
from client_kit.enums import ParticipantStatus, PoolStatus, Reason, RewardPolicy, Verdict
from client_kit.errors import InvalidInput
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.storage.errors import StoreUnavailable
from client_kit.storage.local import LocalStore
from offchain.aggregation import Judgment
from offchain.aggregator import ReferenceMissing, judge_round
from offchain.errors import RoundNotReady
from tests.pools import SOL, PoolScenario, filled, tiny_task

# one float32 tensor "w" with dims [0, 2^63]: zero elements, but no numpy shape
HOSTILE_DIMS = bytes.fromhex("4653544b0101000000010077010200000000000000000000000000000080")


def lying(data: bytes, claimed: bytes) -> PreparedUpdate:
    """What a cheating participant sends: `claimed`'s hash committed, `data` revealed."""
    return PreparedUpdate(data, canonical_hash(claimed))


def honest_bytes(data: bytes) -> PreparedUpdate:
    """Bytes stored under their true hash, whatever they are."""
    return PreparedUpdate(data, canonical_hash(data))


async def _training_pool(tmp_path, trainers: int, rule: str = "fedavg") -> PoolScenario:
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=tiny_task(rule))
    await world.setup()
    # Equal policy: these tests judge without the operator's reference data
    await world.create(max_participants=trainers, reward_policy=RewardPolicy.EQUAL)
    await world.fund(SOL)
    for _ in range(trainers):
        await world.join(await world.new_trainer())
    await world.start()
    return world


async def _judge(world: PoolScenario):  # type: ignore[no-untyped-def]
    """The pool's rule (the task's: FedAvg), its reward policy (Equal), no reference."""
    return await judge_round(world.chain, world.store, world.aggregator, world.key)


async def test_objective_faults_are_slashed_and_doubts_only_excluded(tmp_path) -> None:
    # Given a round where everyone committed and revealed: two honest updates, one
    # whose bytes differ from its commitment, garbage, hostile dims, wrong shapes,
    # non-finite values and a free-rider (the base sent back: a zero delta)
    world = await _training_pool(tmp_path, 8)
    honest, honest2, swapper, garbler, hostile, misshaped, nan, idle = world.trainers
    await world.submit(honest, filled(world.task, 0.1))
    await world.submit(honest2, filled(world.task, 0.3))
    await world.submit(swapper, lying(encode_tensors(filled(world.task, 9.0)), b"something else"))
    await world.submit(garbler, honest_bytes(b"not tensors at all"))
    await world.submit(hostile, honest_bytes(HOSTILE_DIMS))
    await world.submit(misshaped, {"w": np.zeros(3, np.float32)})
    await world.submit(nan, filled(world.task, float("nan")))
    await world.submit(idle, filled(world.task, 0.0))
    for trainer in world.trainers:
        await world.reveal(trainer)

    # When the aggregator judges the round (everyone revealed: no need to wait)
    outcome = await _judge(world)

    # Then objective faults are slashed with their reason, the free-rider only excluded
    verdicts = {j.wallet: (j.verdict, j.reason) for j in outcome.judged}
    slashed = Verdict.SLASHED
    assert verdicts[swapper.wallet.pubkey()] == (slashed, Reason.HASH_MISMATCH)
    assert verdicts[garbler.wallet.pubkey()] == (slashed, Reason.MALFORMED)
    assert verdicts[hostile.wallet.pubkey()] == (slashed, Reason.MALFORMED)
    assert verdicts[misshaped.wallet.pubkey()] == (slashed, Reason.SHAPE)
    assert verdicts[nan.wallet.pubkey()] == (slashed, Reason.NON_FINITE)
    assert verdicts[idle.wallet.pubkey()] == (Verdict.EXCLUDED, Reason.FREE_RIDER)
    assert verdicts[honest.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    assert verdicts[honest2.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    swapped = await world.submission_state(swapper)
    assert swapped.verdict is slashed and swapped.reason is Reason.HASH_MISMATCH
    assert swapped.slashed == SOL // 4
    excluded = await world.participant_state(idle)
    assert excluded.stake == SOL // 2 and excluded.status is ParticipantStatus.ACTIVE
    assert (excluded.excluded_count, excluded.slashed_count) == (1, 0)
    # and the chain holds the stored model's hash
    state = await world.pool_state()
    assert state.status is PoolStatus.FINISHED and state.global_model_hash == outcome.global_hash
    stored = world.store.get(outcome.global_cid)
    assert canonical_hash(stored) == outcome.global_hash
    base = world.task.initial_tensors()
    expected = {k: v + 0.2 for k, v in base.items()}  # FedAvg of equal-weight 0.1 and 0.3
    for name, value in decode_tensors(stored).items():
        np.testing.assert_allclose(value, expected[name], atol=1e-6)


class _DownStore(LocalStore):
    """A store whose reads of `failing` CIDs fail as an unreachable IPFS node's would."""

    failing: frozenset[str] = frozenset()

    def get(self, cid, *args, **kwargs):  # type: ignore[no-untyped-def]
        if cid in self.failing:
            raise StoreUnavailable(f"{cid}: node unreachable")
        return super().get(cid, *args, **kwargs)


async def test_store_outage_raises_and_judges_nobody(tmp_path) -> None:
    # Given two honest, revealed updates and then a store whose reads fail
    world = await _training_pool(tmp_path, 2)
    for trainer, value in zip(world.trainers, (0.1, 0.3), strict=True):
        await world.submit(trainer, filled(world.task, value))
    for trainer in world.trainers:
        await world.reveal(trainer)
    down = _DownStore(tmp_path / "store")
    down.failing = frozenset(
        [(await world.submission_state(t)).update_cid_str for t in world.trainers]
    )
    world.store = down
    # When the aggregator tries to judge, Then it raises and sends nothing
    with pytest.raises(UpdateUnavailable) as raised:
        await _judge(world)
    assert isinstance(raised.value.__cause__, StoreUnavailable)
    for trainer in world.trainers:
        assert (await world.submission_state(trainer)).verdict is Verdict.PENDING
        assert (await world.participant_state(trainer)).stake == SOL // 2
    assert (await world.round_state()).judged_count == 0


async def test_unrevealed_commitment_waits_for_the_reveal_deadline_then_is_slashed(
    tmp_path,
) -> None:
    world = await _training_pool(tmp_path, 2)
    revealer, silent = world.trainers
    await world.submit(revealer, filled(world.task, 0.2))
    await world.submit(silent, filled(world.task, 0.4))
    await world.reveal(revealer)
    with pytest.raises(RoundNotReady):
        await _judge(world)
    assert (await world.round_state()).judged_count == 0
    world.chain.set_time((await world.round_state()).reveal_deadline)
    outcome = await _judge(world)
    verdicts = {j.wallet: (j.verdict, j.reason) for j in outcome.judged}
    assert verdicts[silent.wallet.pubkey()] == (Verdict.SLASHED, Reason.NOT_REVEALED)
    assert verdicts[revealer.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    assert (await world.participant_state(silent)).stake == SOL // 4


@pytest.mark.parametrize(
    ("judgment", "expected"),
    [
        (Judgment("k", Reason.OK, 2_500), (Verdict.ACCEPTED, Reason.OK, 2_500)),
        (Judgment("k", Reason.NON_FINITE), (Verdict.SLASHED, Reason.NON_FINITE, 0)),
        (Judgment("k", Reason.SHAPE), (Verdict.SLASHED, Reason.SHAPE, 0)),
        (Judgment("k", Reason.TRUST), (Verdict.EXCLUDED, Reason.TRUST, 0)),
        (Judgment("k", Reason.ROBUST_RULE), (Verdict.EXCLUDED, Reason.ROBUST_RULE, 0)),
        (Judgment("k", Reason.REPLAY), (Verdict.EXCLUDED, Reason.REPLAY, 0)),
        # a code this client has no name for keeps its class
        (Judgment("k", Reason(100)), (Verdict.EXCLUDED, Reason(100), 0)),
    ],
)
def test_rule_judgments_map_to_verdict_classes(judgment, expected) -> None:  # type: ignore[no-untyped-def]
    assert (judgment.verdict, judgment.code, judgment.score_bps) == expected


async def test_a_rule_that_needs_a_reference_without_reference_data_judges_nobody(
    tmp_path,
) -> None:
    # Given a trusted_mean pool with a revealed update, and an operator without reference data
    world = await _training_pool(tmp_path, 1, rule="trusted_mean")
    (alice,) = world.trainers
    await world.submit(alice, filled(world.task, 0.1))
    await world.reveal(alice)
    # When it judges, Then it raises before sending anything
    with pytest.raises(ReferenceMissing):
        await _judge(world)
    assert (await world.round_state()).judged_count == 0


async def test_a_verdict_outside_its_reason_class_is_refused_before_sending(tmp_path) -> None:
    world = await _training_pool(tmp_path, 1)
    (alice,) = world.trainers
    await world.submit(alice, filled(world.task, 0.1))
    await world.reveal(alice)
    before = await world.submission_state(alice)
    for verdict, reason in (
        (Verdict.SLASHED, Reason.TRUST),  # a doubt never slashes
        (Verdict.EXCLUDED, Reason.NON_FINITE),  # an objective fault is not a doubt
        (Verdict.ACCEPTED, Reason.ROBUST_RULE),
        (Verdict.EXCLUDED, Reason(200)),  # reserved codes belong to no class
        (Verdict.PENDING, Reason.OK),
    ):
        with pytest.raises(InvalidInput):
            await world.judge(alice, verdict, 0, reason)
    assert await world.submission_state(alice) == before
