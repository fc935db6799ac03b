"""`make demo`: a full federated run on the embedded SVM, told as a story.

An organization publishes a task (digits MLP) and opens and funds a pool; seven
participants stake, each trains on its own non-IID shard of scikit-learn's
digits and commits to its update's SHA-256 on chain; once everyone committed,
each stores its update (real CIDs) and reveals the CID. One participant sends
a sign-flipped, scaled update, one sends the global model back unchanged (a
free-rider), one commits but never reveals. The aggregator fetches every
revealed update, checks it against its commitment, runs the pool's robust
rule (its doubts only exclude: no reward, no slash), slashes the objective
fault (the commitment never revealed), scores the accepted updates by the
pool's reward policy (contribution: alignment with the operator's reference
update, trained on the operator's own data; never the self-reported sample
counts), stores the new global model and the round record (every input by
hash and CID, so anyone can rerun the round) and records both on chain.
After three rounds a relayer claims every reward by revealing the committed
payout wallets, everybody withdraws, anyone sends the organization what
nobody is owed, and the organization closes the pool.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.console import Console
from rich.table import Table
from solders.keypair import Keypair

from client_kit.actions import exits, organization, participant
from client_kit.actions.reads import find_round, load_participant, load_pool
from client_kit.canonical import decode_tensors, tensors_hash
from client_kit.enums import ParticipantStatus, Verdict
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.keys import PayoutSecret
from client_kit.storage.local import LocalStore
from client_kit.training.data import digits_mlp_spec, digits_shards
from client_kit.training.task import TaskPackage, TrainingConfig
from client_kit.training.train import evaluate
from offchain.aggregation import DEFAULT_REWARD_POLICY
from offchain.aggregator import judge_round
from offchain.reference import OperatorData

SOL = 1_000_000_000
ROUNDS = 3
console = Console(width=max(110, Console().width))


@dataclass
class Trainer:
    name: str
    behaviour: str  # honest, attacker, free-rider, silent
    wallet: Keypair = field(default_factory=Keypair)
    payout: Keypair = field(default_factory=Keypair)
    secret: PayoutSecret | None = None
    verdicts: list[str] = field(default_factory=list)


def sol(lamports: int) -> str:
    return f"{lamports / SOL:.4f}"


async def make_update(trainer: Trainer, inputs: participant.RoundInputs, shard, seed: int):
    """What each participant sends: honest training, or one of two cheats."""
    if trainer.behaviour == "free-rider":
        return {k: np.zeros_like(v) for k, v in inputs.global_model.items()}, len(shard)
    result = await participant.train_round(inputs, shard, seed=seed)
    if trainer.behaviour == "attacker":
        return {k: -5.0 * v for k, v in result.update.items()}, result.num_samples
    return result.update, result.num_samples


async def run() -> int:
    chain = EmbeddedGateway()
    store = LocalStore(Path(tempfile.mkdtemp(prefix="fedstake-demo-store-")))
    org, aggregator = Keypair(), Keypair()
    for key in (org.pubkey(), aggregator.pubkey()):
        await chain.airdrop(key, 20 * SOL)

    console.rule("[bold]fedstake demo: federated learning with stakes, on the compiled program")
    federation = digits_shards(8, alpha=0.5, seed=7)
    root, shards = federation.shards[0], federation.shards[1:]
    task = TaskPackage.create(
        "digits",
        "8×8 handwritten digits, MLP",
        digits_mlp_spec(),
        TrainingConfig(epochs=5, batch_size=16, lr=0.05, optimizer="sgd", momentum=0.9),
        seed=1,
    )
    terms = organization.PoolTerms(
        reward_per_round=SOL,
        max_rounds=ROUNDS,
        min_stake=SOL // 10,
        max_participants=10,
        reward_policy=DEFAULT_REWARD_POLICY,
    )
    created = await organization.create_pool(
        chain, store, org, task, terms, aggregator=aggregator.pubkey()
    )
    pool = created.pool
    await organization.fund_pool(chain, org, pool, terms.funding_needed)
    console.print(
        f"The organization stores the task package ([cyan]{created.task_cid}[/cyan]), opens "
        f"pool {pool} and funds {ROUNDS} rounds × 1 SOL of rewards."
    )

    behaviours = ["honest"] * 4 + ["attacker", "free-rider", "silent"]
    names = ["ana", "ben", "chloe", "dev", "mallory", "fred", "sam"]
    trainers = [Trainer(n, b) for n, b in zip(names, behaviours, strict=True)]
    for t in trainers:
        await chain.airdrop(t.wallet.pubkey(), 2 * SOL)
        joined = await participant.join_pool(
            chain, t.wallet, pool, SOL // 2, payout_wallet=t.payout.pubkey()
        )
        t.secret = joined.secret
    console.print(
        "Seven participants stake 0.5 SOL each and commit to hidden payout wallets "
        "(sha256(wallet ‖ salt)); each holds a private non-IID shard of digits."
    )
    await organization.start_training(chain, org, pool)

    operator_data = OperatorData(reference=root, validation=federation.test)
    weights = task.initial_tensors()
    accuracy = [evaluate(task.model, weights, federation.test.x, federation.test.y)]
    console.print(f"Initial model: test accuracy {accuracy[0]:.1%}.")
    for number in range(1, ROUNDS + 1):
        console.rule(f"round {number}")
        inputs = await participant.fetch_round_inputs(chain, store, pool)
        committed = {}
        for i, t in enumerate(trainers):
            standing = await load_participant(chain, pool, t.wallet.pubkey())
            if standing.status is not ParticipantStatus.ACTIVE:
                t.verdicts.append("-")
                continue
            update, samples = await make_update(t, inputs, shards[i], seed=100 * number + i)
            committed[t.name] = participant.prepare_update(update)
            await participant.submit_update(chain, t.wallet, pool, committed[t.name], samples)
        console.print(
            "Participants train locally and commit to their update hashes on chain; "
            "nobody has uploaded anything, so nobody can see anyone's update yet."
        )
        for t in trainers:
            if t.name in committed and t.behaviour != "silent":
                await participant.reveal_update(chain, store, t.wallet, pool, committed[t.name])
        console.print(
            "Everyone committed, so the reveal phase opens: each stores its update and "
            "reveals the CID, too late for anyone to copy it."
        )
        current = await find_round(chain, pool, number)
        assert current is not None
        if current.revealed_count < current.submission_count:
            chain.set_time(current.reveal_deadline)
            console.print("Someone never revealed: the aggregator waits for the reveal deadline.")
        outcome = await judge_round(
            chain, store, aggregator, pool, reference=operator_data.reference_update
        )
        by_wallet = {j.wallet: j for j in outcome.judged}
        for t in trainers:
            j = by_wallet.get(t.wallet.pubkey())
            if j is not None:
                code = j.reason.code
                t.verdicts.append(f"{j.score_bps / 100:.0f}%" if j.accepted else f"✗ {code}")
                mark = {
                    Verdict.ACCEPTED: "[green]accepted[/green]",
                    Verdict.EXCLUDED: f"[yellow]excluded ({code}): no reward, no slash[/yellow]",
                    Verdict.SLASHED: f"[red]slashed ({code})[/red]",
                }[j.verdict]
                console.print(
                    f"  {t.name:8s} {mark}"
                    + (f", {j.score_bps / 100:.1f}% of the reward" if j.accepted else "")
                )
        weights = decode_tensors(store.get(outcome.global_cid))
        assert tensors_hash(weights) == outcome.global_hash
        accuracy.append(evaluate(task.model, weights, federation.test.x, federation.test.y))
        console.print(
            f"Global model {outcome.global_hash.hex()[:16]}… recorded on chain "
            f"([cyan]{outcome.global_cid}[/cyan]) with the round record "
            f"([cyan]{outcome.record_cid}[/cyan]); test accuracy {accuracy[-1]:.1%}."
        )

    console.rule("payouts")
    relayer = aggregator
    for t in trainers:
        standing = await load_participant(chain, pool, t.wallet.pubkey())
        if standing.reward_unpaid and t.secret is not None:
            await participant.claim_reward(chain, relayer, pool, t.secret)
    console.print(
        "A relayer reveals each payout wallet and salt; the program checks the commitment "
        "and pays that wallet, which was never linked to the trainer before."
    )
    stakes = {}
    for t in trainers:
        stakes[t.name] = (await participant.withdraw_stake(chain, t.wallet, pool)).returned

    table = Table(title=f"Outcome after {ROUNDS} rounds (rule: {task.aggregation.rule})")
    table.add_column("participant")
    table.add_column("behaviour")
    for number in range(1, ROUNDS + 1):
        table.add_column(f"round {number}")
    table.add_column("reward (SOL)", justify="right")
    table.add_column("stake + rent back (SOL)", justify="right")
    for t in trainers:
        paid = await chain.get_balance(t.payout.pubkey())
        table.add_row(t.name, t.behaviour, *t.verdicts, sol(paid), sol(stakes[t.name]))
    console.print(table)
    console.print("Test accuracy by round: " + " → ".join(f"{a:.1%}" for a in accuracy))
    final = await load_pool(chain, pool)
    console.print(
        f"Pool {final.status}: {sol(final.total_paid)} SOL paid, {sol(final.total_slashed)} SOL "
        f"slashed into the pool's reward balance."
    )
    reclaimed = await exits.reclaim_funding(chain, relayer, pool)
    await organization.close_pool(chain, org, pool)
    console.print(
        f"Anyone may send the organization what nobody is owed: {sol(reclaimed.amount)} SOL "
        "(unspent budget and slashed stake) went back to it; with every participant gone "
        "it closed the pool and took back the rent."
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))
