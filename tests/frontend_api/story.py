"""One pool's round, run through `client_kit.actions`, that the API tests read back."""

from __future__ import annotations

from dataclasses import dataclass

from client_kit.actions.participant import Submitted
from client_kit.gateway.base import TxResult
from tests.pools import SOL, PoolScenario, Trainer, filled


@dataclass
class JudgedRound:
    """Round 1 of a 2-round pool: three trainers committed, two accepted, one
    rejected, the round finalized (round 2 open)."""

    trainers: list[Trainer]
    submitted: dict[str, Submitted]  # wallet (base58) → its commitment
    judged: dict[str, TxResult]  # wallet (base58) → its judge_submission transaction
    global_hash: bytes


async def judged_round(scenario: PoolScenario, *, trainers: int = 3) -> JudgedRound:
    await scenario.create(max_rounds=2)
    await scenario.fund(2 * SOL)
    members = [await scenario.new_trainer() for _ in range(trainers)]
    for member in members:
        await scenario.join(member)
    await scenario.start()
    submitted = {str(m.wallet.pubkey()): await scenario.submit(m) for m in members}
    judged = {}
    for i, member in enumerate(members):
        accepted = i < trainers - 1
        score = 10_000 // (trainers - 1) if accepted else 0
        judged[str(member.wallet.pubkey())] = await scenario.judge(member, accepted, score)
    finalized = await scenario.finalize(filled(scenario.task, 0.5))
    return JudgedRound(members, submitted, judged, finalized.global_model_hash)
