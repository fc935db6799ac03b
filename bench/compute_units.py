"""Compute units per instruction, account sizes and rent, from LiteSVM.

Runs one scripted pool life (and a cancelled pool for `cancel_pool`) against
the compiled program and prints a Markdown table. Target: every instruction
≤ 15,000 CU.
"""

from __future__ import annotations

import hashlib
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client_kit.accounts import ACCOUNT_TYPES
from client_kit.idl import load_idl
from scripts.scripted_pool import SOL, ScriptedPool

TARGET_CU = 15_000


def measure() -> dict[str, list[int]]:
    samples: dict[str, list[int]] = defaultdict(list)
    run = ScriptedPool(on_tx=lambda label, result: samples[label].append(result.compute_units))
    run.create_and_fund()
    members = [run.join(f"p{i}", honest=i != 2) for i in range(3)]
    run.start()
    base = run.chain.svm.get_account(run.pool).data[
        8 + 32 + 32 + 8 + 64 : 8 + 32 + 32 + 8 + 64 + 32
    ]
    for m in members:
        run.submit(m, 1, bytes(base), hashlib.sha256(m.name.encode()).digest(), "bafkreiupdate")
    run.judge(members[0], 1, True, 6_000, 0)
    run.judge(members[1], 1, True, 4_000, 0)
    run.judge(members[2], 1, False, 0, 3)
    run.finalize(1, hashlib.sha256(b"global").digest(), "bafkreiglobal")
    for m in members[:2]:
        run.claim(m, run.organization)
    for m in members:
        run.close_submission(m, 1)
        run.withdraw(m)
    run.close_pool()
    cancelled = ScriptedPool(
        on_tx=lambda label, result: samples[label].append(result.compute_units)
    )
    cancelled.create_and_fund()
    cancelled.send(
        "cancel_pool",
        cancelled.ix.cancel_pool(cancelled.organization.pubkey(), cancelled.pool),
        cancelled.organization,
    )
    return samples


def main() -> int:
    samples = measure()
    idl = load_idl()
    print("| instruction | calls | CU min | CU max | within 15,000 |")
    print("| --- | ---: | ---: | ---: | :---: |")
    worst = 0
    for ix in idl.raw["instructions"]:
        values = samples.get(ix["name"], [])
        if not values:
            print(f"| {ix['name']} | 0 | – | – | – |")
            continue
        worst = max(worst, max(values))
        ok = "yes" if max(values) <= TARGET_CU else "**no**"
        print(f"| {ix['name']} | {len(values)} | {min(values):,} | {max(values):,} | {ok} |")
    run = ScriptedPool()
    print()
    print("| account | bytes | rent-exempt lamports |")
    print("| --- | ---: | ---: |")
    sizes = {"Pool": 0, "Participant": 0, "Submission": 0, "Round": 0}
    for name in ACCOUNT_TYPES:
        fields = idl.type_def(name)["fields"]
        size = 8 + len(idl.encode_fields(fields, _zero_values(idl, fields)))
        sizes[name] = size
        print(f"| {name} | {size} | {run.chain.svm.minimum_balance_for_rent_exemption(size):,} |")
    print(f"| vault (no data) | 0 | {run.chain.svm.minimum_balance_for_rent_exemption(0):,} |")
    print(f"\nworst instruction: {worst:,} CU (target ≤ {TARGET_CU:,}); 1 SOL = {SOL:,} lamports")
    return 0 if worst <= TARGET_CU else 1


def _zero_values(idl, fields):
    from solders.pubkey import Pubkey

    values = {}
    for f in fields:
        t = f["type"]
        if t == "pubkey":
            values[f["name"]] = Pubkey.default()
        elif isinstance(t, dict) and "array" in t:
            values[f["name"]] = b""
        elif isinstance(t, dict) and "defined" in t:
            values[f["name"]] = 0
        elif t == "bool":
            values[f["name"]] = False
        else:
            values[f["name"]] = 0
    return values


if __name__ == "__main__":
    sys.exit(main())
