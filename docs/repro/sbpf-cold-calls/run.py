"""Runs both builds of the repro in LiteSVM (solders 0.29) and prints each result.

`entrypoint` reads the first byte of the SBF input region, which is the number
of accounts passed (u64 LE): 1 account → cold_a(0) = 0xa, 2 accounts →
cold_b(0) = 0xb. The runtime reports a non-zero return as
`custom program error: <value>`.

Usage: python run.py [DIR]   (DIR defaults to <repo>/target/repro-cold-calls)
"""

import sys
from pathlib import Path

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

DEFAULT_OUT = Path(__file__).resolve().parents[3] / "target" / "repro-cold-calls"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT

for variant in ("default", "no-section-prefix"):
    svm = LiteSVM()
    program = Pubkey.new_unique()
    svm.add_program(program, (OUT / f"{variant}.so").read_bytes())
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**9)
    for accounts, expected in ((1, "0xa (cold_a)"), (2, "0xb (cold_b)")):
        metas = [AccountMeta(Pubkey.new_unique(), False, False) for _ in range(accounts)]
        message = Message([Instruction(program, b"", metas)], payer.pubkey())
        tx = Transaction([payer], message, svm.latest_blockhash())
        result = svm.send_transaction(tx)
        svm.expire_blockhash()
        logs = result.meta().logs() if hasattr(result, "meta") else result.logs()
        failed = [line.split(" failed: ", 1)[1] for line in logs if " failed: " in line]
        outcome = failed[-1] if failed else "ok"
        print(f"{variant:18} {accounts} account(s): {outcome:34} expected {expected}")
