"""`make demo`: one federated pool life on the embedded SVM, told as a story.

An organization opens and funds a pool, three participants stake and submit
update hashes, the aggregator accepts two and rejects (and slashes) a poisoned
one, finalizes the round with the new global model hash, and a relayer claims
rewards by revealing each hashed payout wallet.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from client_kit.accounts import Pool, decode_account
from scripts.scripted_pool import SOL, ScriptedPool

console = Console()


def sol(lamports: int) -> str:
    return f"{lamports / SOL:,.4f} SOL"


def main() -> int:
    log: list[tuple[str, int]] = []

    def on_tx(label: str, result) -> None:
        log.append((label, result.compute_units))
        console.print(
            f"  [dim]{label}: {result.compute_units:,} CU, events: "
            f"{', '.join(e.name for e in result.events) or '-'}[/dim]"
        )

    run = ScriptedPool(on_tx=on_tx)
    console.rule("[bold]fedstake demo — embedded SVM running the compiled fedstake.so")
    console.print(
        f"Organization {run.organization.pubkey()} opens pool {run.pool} "
        "and funds 1 SOL of rewards."
    )
    run.create_and_fund()
    console.print("Three participants stake 0.5 SOL each and commit to hidden payout wallets.")
    alice, bob, mallory = (run.join(n, honest=n != "mallory") for n in ("alice", "bob", "mallory"))
    run.start()
    pool = decode_account(Pool, bytes(run.chain.svm.get_account(run.pool).data))
    console.print(
        f"Training starts: round {pool.round}, deadline t+{pool.round_duration}s, "
        f"base model {pool.global_model_hash.hex()[:16]}…"
    )
    for m in (alice, bob, mallory):
        update = hashlib.sha256(f"update of {m.name}".encode()).digest()
        run.submit(m, 1, pool.global_model_hash, update, f"bafkrei{m.name}update")
        console.print(f"{m.name} submits update hash {update.hex()[:16]}…")
    console.print(
        "The aggregator checks every update against its on-chain hash and its robustness rule:"
    )
    run.judge(alice, 1, True, 6_000, 0)
    run.judge(bob, 1, True, 4_000, 0)
    run.judge(mallory, 1, False, 0, 3)
    console.print(
        "  alice accepted (60% of the round), bob accepted (40%), mallory rejected and slashed 50%."
    )
    global_hash = hashlib.sha256(b"aggregated global model, round 1").digest()
    run.finalize(1, global_hash, "bafkreiglobalround1")
    console.print(
        f"Round 1 finalized; new global model {global_hash.hex()[:16]}… recorded on chain."
    )
    relayer = run.aggregator
    for m in (alice, bob):
        run.claim(m, relayer)
        console.print(
            f"A relayer reveals {m.name}'s payout wallet + salt; "
            "the program checks the commitment and pays."
        )
    for m in (alice, bob, mallory):
        run.withdraw(m)

    table = Table(title="Outcome")
    for column in (
        "participant",
        "verdict",
        "stake returned",
        "reward paid to payout wallet",
        "wallet balance",
    ):
        table.add_column(column)
    for m in (alice, bob, mallory):
        paid = run.balance(m.payout.pubkey())
        table.add_row(
            m.name,
            "accepted" if m.honest else "rejected (slashed)",
            sol(SOL // 2 if m.honest else SOL // 4),
            sol(paid),
            sol(run.balance(m.wallet.pubkey())),
        )
    console.print(table)
    pool = decode_account(Pool, bytes(run.chain.svm.get_account(run.pool).data))
    console.print(
        f"Pool status {pool.status}; vault keeps {sol(run.balance(run.vault))} "
        f"(rent + {sol(pool.total_slashed)} slashed, returned to the organization on close_pool)."
    )
    cu = Table(title="Compute units")
    cu.add_column("instruction")
    cu.add_column("CU", justify="right")
    for label, units in log:
        cu.add_row(label, f"{units:,}")
    console.print(cu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
