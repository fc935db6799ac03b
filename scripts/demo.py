"""`make demo`: a full federated run on the embedded SVM, told as a story.

An organization publishes a task (digits MLP) and opens and funds a pool; seven
participants stake, each trains on its own non-IID shard of scikit-learn's
digits and commits to its update's SHA-256 on chain; once everyone committed,
each stores its update (real CIDs) and reveals the CID. One participant sends
a sign-flipped, scaled update, one sends the global model back unchanged (a
free-rider), one commits but never reveals. The aggregator fetches every
revealed update, checks it against its commitment, runs the pool's robust
rule (its doubts only exclude), slashes the objective fault (the commitment
never revealed), stores the new global model and records its hash. After
three rounds a relayer claims every reward by revealing the committed payout
wallets, everybody withdraws, and the organization reclaims what is left and
closes the pool.
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

from client_kit.accounts import Participant, Pool, Round, decode_account
from client_kit.canonical import decode_tensors, encode_tensors, tensors_hash
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions, PoolParams
from client_kit.keys import generate_salt, payout_commitment
from client_kit.protocol import Verdict
from client_kit.storage.local import LocalStore
from client_kit.training.data import digits_mlp_spec, digits_shards
from client_kit.training.task import TaskPackage, TrainingConfig
from client_kit.training.train import evaluate, train_local
from offchain.aggregation import DEFAULT_RULE, make_rule
from offchain.aggregator import judge_round

SOL = 1_000_000_000
ROUNDS = 3
console = Console(width=max(110, Console().width))


@dataclass
class Trainer:
    name: str
    behaviour: str  # honest, attacker, free-rider, silent
    wallet: Keypair = field(default_factory=Keypair)
    payout: Keypair = field(default_factory=Keypair)
    salt: bytes = field(default_factory=generate_salt)
    verdicts: list[str] = field(default_factory=list)


def sol(lamports: int) -> str:
    return f"{lamports / SOL:.4f}"


def make_update(trainer: Trainer, task, weights, shard, seed: int):
    """What each participant sends: honest training, or one of two cheats."""
    if trainer.behaviour == "free-rider":
        return {k: np.zeros_like(v) for k, v in weights.items()}, len(shard)
    result = train_local(task, weights, shard, seed=seed)
    if trainer.behaviour == "attacker":
        return {k: -5.0 * v for k, v in result.update.items()}, result.num_samples
    return result.update, result.num_samples


async def run() -> int:
    chain = EmbeddedGateway()
    ix = FedstakeInstructions(chain.program_id)
    store = LocalStore(Path(tempfile.mkdtemp(prefix="fedstake-demo-store-")))
    organization, aggregator = Keypair(), Keypair()
    for key in (organization.pubkey(), aggregator.pubkey()):
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
    task_cid = store.put(task.to_bytes())
    model_cid = store.put(task.initial_weights)
    reward = SOL
    params = PoolParams(
        pool_id=1,
        aggregator=aggregator.pubkey(),
        task_cid=task_cid,
        initial_model_hash=task.initial_weights_hash,
        initial_model_cid=model_cid,
        max_rounds=ROUNDS,
        round_duration=600,
        join_deadline=await chain.unix_time() + 3600,
        min_stake=SOL // 10,
        max_participants=10,
        reward_per_round=reward,
        slash_bps=5_000,
    )
    pool = ix.pool(organization.pubkey(), 1)
    await chain.send([ix.create_pool(organization.pubkey(), params)], [organization])
    await chain.send([ix.fund_pool(organization.pubkey(), pool, reward * ROUNDS)], [organization])
    console.print(
        f"The organization stores the task package ([cyan]{task_cid}[/cyan]), opens pool "
        f"{pool} and funds {ROUNDS} rounds × 1 SOL of rewards."
    )

    behaviours = ["honest"] * 4 + ["attacker", "free-rider", "silent"]
    names = ["ana", "ben", "chloe", "dev", "mallory", "fred", "sam"]
    trainers = [Trainer(n, b) for n, b in zip(names, behaviours, strict=True)]
    for t in trainers:
        await chain.airdrop(t.wallet.pubkey(), 2 * SOL)
        commitment = payout_commitment(t.payout.pubkey(), t.salt)
        await chain.send([ix.join_pool(t.wallet.pubkey(), pool, SOL // 2, commitment)], [t.wallet])
    console.print(
        "Seven participants stake 0.5 SOL each and commit to hidden payout wallets "
        "(sha256(wallet ‖ salt)); each holds a private non-IID shard of digits."
    )
    await chain.send([ix.start_training(organization.pubkey(), pool)], [organization])

    rule = make_rule(DEFAULT_RULE)
    weights = task.initial_tensors()
    accuracy = [evaluate(task.model, weights, federation.test.x, federation.test.y)]
    console.print(f"Initial model: test accuracy {accuracy[0]:.1%}.")
    for number in range(1, ROUNDS + 1):
        console.rule(f"round {number}")
        state = decode_account(Pool, (await chain.get_account(pool)).data)
        committed = {}
        for i, t in enumerate(trainers):
            info = await chain.get_account(ix.participant(pool, t.wallet.pubkey()))
            if decode_account(Participant, info.data).status != "Active":
                t.verdicts.append("-")
                continue
            update, samples = make_update(t, task, weights, shards[i], seed=100 * number + i)
            committed[t.name] = encode_tensors(update)
            await chain.send(
                [
                    ix.submit_update(
                        t.wallet.pubkey(),
                        pool,
                        number,
                        update_hash=tensors_hash(update),
                        num_samples=samples,
                        base_model_hash=state.global_model_hash,
                    )
                ],
                [t.wallet],
            )
        console.print(
            "Participants train locally and commit to their update hashes on chain; "
            "nobody can see anyone's update yet."
        )
        for t in trainers:
            if t.name in committed and t.behaviour != "silent":
                cid = store.put(committed[t.name])
                await chain.send(
                    [ix.reveal_update(t.wallet.pubkey(), pool, number, cid)], [t.wallet]
                )
        console.print(
            "Everyone committed, so the reveal phase opens: each stores its update and "
            "reveals the CID (too late to copy anyone)."
        )
        round_state = decode_account(Round, (await chain.get_account(ix.round(pool, number))).data)
        if round_state.revealed_count < round_state.submission_count:
            chain.set_time(round_state.reveal_deadline)
            console.print("Someone never revealed: the aggregator waits for the reveal deadline.")
        reference = train_local(task, weights, root, seed=number).update
        outcome = await judge_round(
            chain, store, aggregator, pool, rule=rule, base=weights, reference=reference
        )
        by_wallet = {j.wallet: j for j in outcome.judged}
        for t in trainers:
            j = by_wallet.get(t.wallet.pubkey())
            if j is not None:
                t.verdicts.append(f"{j.score_bps / 100:.0f}%" if j.accepted else f"✗ {j.reason}")
                mark = {
                    Verdict.ACCEPTED: "[green]accepted[/green]",
                    Verdict.EXCLUDED: f"[yellow]excluded ({j.reason}), not slashed[/yellow]",
                    Verdict.SLASHED: f"[red]slashed ({j.reason})[/red]",
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
            f"([cyan]{outcome.global_cid}[/cyan]); test accuracy {accuracy[-1]:.1%}."
        )

    console.rule("payouts")
    relayer = aggregator
    for t in trainers:
        participant = decode_account(
            Participant, (await chain.get_account(ix.participant(pool, t.wallet.pubkey()))).data
        )
        if participant.reward_unpaid:
            await chain.send(
                [ix.claim_reward(pool, t.wallet.pubkey(), t.payout.pubkey(), t.salt)], [relayer]
            )
    console.print(
        "A relayer reveals each payout wallet and salt; the program checks the commitment "
        "and pays that wallet, which was never linked to the trainer before."
    )
    stakes = {}
    for t in trainers:
        before = await chain.get_balance(t.wallet.pubkey())
        await chain.send([ix.withdraw_stake(t.wallet.pubkey(), pool)], [t.wallet])
        stakes[t.name] = await chain.get_balance(t.wallet.pubkey()) - before

    table = Table(title=f"Outcome after {ROUNDS} rounds (rule: {DEFAULT_RULE})")
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
    final = decode_account(Pool, (await chain.get_account(pool)).data)
    console.print(
        f"Pool {final.status}: {sol(final.total_paid)} SOL paid, {sol(final.total_slashed)} SOL "
        f"slashed into the reward balance."
    )
    reclaimed = await chain.send([ix.reclaim_funding(pool, organization.pubkey())], [relayer])
    await chain.send([ix.close_pool(organization.pubkey(), pool)], [organization])
    console.print(
        f"Anyone may send the organization what nobody is owed: "
        f"{sol(reclaimed.events[0].fields['amount'])} SOL (unspent budget and slashed stake) "
        "went back to it; with every participant gone it closed the pool and took the rent."
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))
