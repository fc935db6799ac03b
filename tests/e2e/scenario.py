"""The end-to-end scenario both e2e tests play, and what the rules say must
come of it.

A two-round pool of a small task (`TASK`: 3 features, a hidden layer of 8,
2 classes, the default rule `trusted_mean`; the client's default reward
policy `Contribution`) with five participant agents:

* ana, honest: Accepted every round, a share of each round's reward, which
  its own agent claims (`participate --claim`);
* ben, honest: the same, claimed afterwards through the operator's relayer
  (`operator relay-claim`);
* eve, sign-flip (the attacker: −10 × its trained update): Excluded every
  round (statistical: `trust` or `norm_outlier`), no reward, no slash;
* mal, tampered (reveals other bytes than it committed to): Slashed
  `hash_mismatch` in round 1 (half its stake), no commitment in round 2;
* fred, free-rider (sends the global model back, a zero update): Excluded
  `free_rider` every round, no reward.

Why a hidden layer: see tests.pools.tiny_task (the operator's `replay` test
and the bare perceptron).

`check_outcome` asserts all of it from the chain (submissions, payout
balances) and from what each agent printed; the tests add how they ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from solders.pubkey import Pubkey

from client_kit.actions.reads import find_submission, load_pool
from client_kit.enums import PoolStatus, Reason, Verdict
from client_kit.gateway.base import ChainGateway
from client_kit.training.behaviours import Behaviour
from client_kit.training.task import TaskPackage
from tests.pools import SOL, tiny_task

ROUNDS = 2
REWARD_PER_ROUND = SOL
STAKE = SOL // 2
SLASH_BPS = 5_000
FEES = 10_000  # lamports: the signature fees a withdrawal's returned amount is net of
REFERENCE_SEED = 999  # the operator's reference data: tests.agents.tiny_data(999)
HIDDEN = 8
# `fedstake task init` arguments of the same task (for the processes test and docs/OPERATOR.md)
TASK_INIT_ARGS = [
    "--model", "mlp", "--input", "3", "--hidden", str(HIDDEN), "--classes", "2",
    "--epochs", "1", "--rule", "trusted_mean", "--seed", "0",
]  # fmt: skip


def scenario_task() -> TaskPackage:
    """The scenario's task package (what `task init TASK_INIT_ARGS` writes, but its name)."""
    return tiny_task("trusted_mean", hidden=(HIDDEN,))


@dataclass(frozen=True)
class Member:
    """One participant of the scenario: its agent's behaviour and data seed,
    and how its reward is claimed ("agent": `participate --claim`, "relayer":
    the operator relays its reveal afterwards, None: it should earn nothing)."""

    name: str
    behaviour: Behaviour
    seed: int
    claim_by: str | None = None

    @property
    def honest(self) -> bool:
        return self.behaviour is Behaviour.HONEST


CAST = [
    Member("ana", Behaviour.HONEST, 1, claim_by="agent"),
    Member("ben", Behaviour.HONEST, 2, claim_by="relayer"),
    Member("eve", Behaviour.SIGN_FLIP, 3),
    Member("mal", Behaviour.TAMPERED, 4),
    Member("fred", Behaviour.FREE_RIDER, 5),
]

# What the agent of each behaviour must be told in each round: (verdict, allowed reasons).
STATISTICAL_ATTACK = {Reason.TRUST.code, Reason.NORM_OUTLIER.code}
EXPECTED = {
    Behaviour.HONEST: [(Verdict.ACCEPTED, {Reason.OK.code})] * ROUNDS,
    Behaviour.SIGN_FLIP: [(Verdict.EXCLUDED, STATISTICAL_ATTACK)] * ROUNDS,
    Behaviour.TAMPERED: [(Verdict.SLASHED, {Reason.HASH_MISMATCH.code})],
    Behaviour.FREE_RIDER: [(Verdict.EXCLUDED, {Reason.FREE_RIDER.code})] * ROUNDS,
}


@dataclass(frozen=True)
class Played:
    """How one member's run went: its wallet, payout wallet, and `said(kind)`,
    the agent's lines of that kind (event fields, amounts in lamports)."""

    member: Member
    wallet: Pubkey
    payout: Pubkey
    said: Callable[[str], list[dict]]


async def check_outcome(chain: ChainGateway, pool: Pubkey, played: list[Played]) -> None:
    """Asserts what the rules say must come of the scenario, once every agent
    ended and every reward due was claimed (see the module docstring)."""
    state = await load_pool(chain, pool)
    assert state.status is PoolStatus.FINISHED and state.round == ROUNDS
    honest_paid = 0
    returned: dict[Behaviour, int] = {}  # lamports each withdrawal gave back
    for p in played:
        name, expected = p.member.name, EXPECTED[p.member.behaviour]
        # the chain's verdicts, round by round (a slashed member commits no more)
        for number in range(1, ROUNDS + 1):
            sub = await find_submission(chain, pool, number, p.wallet)
            if number > len(expected):
                assert sub is None, f"{name} committed in round {number} after its slash"
                continue
            verdict, reasons = expected[number - 1]
            assert sub is not None, f"{name} has no submission in round {number}"
            assert sub.verdict is verdict and sub.reason.code in reasons, (name, number, sub)
            if verdict is not Verdict.ACCEPTED:
                assert sub.reward == 0, (name, number)
            if verdict is not Verdict.SLASHED:
                assert sub.slashed == 0, (name, number)
        # the agent printed the same verdicts, once each, and was never refused
        printed = [(v["round"], v["verdict"], v["reason"]) for v in p.said("verdict")]
        assert len(printed) == len(expected), (name, printed)
        for (number, verdict_name, reason), (verdict, reasons) in zip(
            printed, expected, strict=True
        ):
            assert (verdict_name, reason in reasons) == (verdict.value, True), (name, number)
        assert p.said("refused") == [], name
        assert len(p.said("committed")) == len(expected), name
        # everyone got its stake back (the slashed one half of it) and the agent ended
        withdrawn = p.said("withdrawn")
        assert len(withdrawn) == 1, (name, withdrawn)
        returned[p.member.behaviour] = withdrawn[0]["returned_lamports"]
        if p.member.behaviour is not Behaviour.TAMPERED:
            assert returned[p.member.behaviour] >= STAKE - FEES, (name, withdrawn)
        ended = p.said("ended")
        assert ended and ended[-1]["status"] == PoolStatus.FINISHED.value, name
        # rewards: the honest ones were paid to their committed payout wallets, nobody else
        balance = await chain.get_balance(p.payout)
        if p.member.honest:
            assert balance > 0, f"{name}'s payout wallet got nothing"
            honest_paid += balance
        else:
            assert balance == 0, f"{name} was paid {balance} lamports"
            assert p.said("claimed") == [], name
    for p in played:
        claimed = p.said("claimed")
        if p.member.claim_by == "agent":
            assert [c["paid_lamports"] for c in claimed] == [await chain.get_balance(p.payout)], (
                p.member.name
            )
        elif p.member.claim_by == "relayer":
            assert claimed == [], p.member.name  # its agent left the claim to the relayer
    # the tampering attacker lost slash_bps of its stake: it got that much less back
    # than the free-rider (both closed their accounts, nothing owed, same fees)
    slashed = STAKE * SLASH_BPS // 10_000
    assert returned[Behaviour.FREE_RIDER] - returned[Behaviour.TAMPERED] == slashed, returned
    # the honest participants shared every round's whole reward (the others earned nothing)
    assert honest_paid == ROUNDS * REWARD_PER_ROUND, honest_paid


__all__ = [
    "CAST",
    "EXPECTED",
    "REFERENCE_SEED",
    "REWARD_PER_ROUND",
    "ROUNDS",
    "SLASH_BPS",
    "STAKE",
    "TASK_INIT_ARGS",
    "Member",
    "Played",
    "check_outcome",
    "scenario_task",
]
