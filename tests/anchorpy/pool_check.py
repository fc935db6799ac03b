"""fedstake through anchorpy 0.21, run inside its own venv (not the project's).

    .tools/anchorpy-venv/bin/python tests/anchorpy/pool_check.py \\
        RPC_URL LEGACY_IDL PAYER_KEYPAIR POOL REPORT

Loads the legacy-format IDL (`target/idl/fedstake.legacy.json`), fetches and
decodes the Pool at POOL, funds it through anchorpy's `Program.rpc`, parses
the event from that transaction's logs, and sends a refused call (an empty
funding) to show how anchorpy reports the program's error. Writes what it saw
as JSON to REPORT for tests/outside_clients/test_anchorpy.py. Imports nothing
from fedstake: it only needs what anchorpy's venv has.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from anchorpy import Context, EventParser, Idl, Program, Provider, Wallet
from anchorpy.error import ProgramError
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

AMOUNT = 250_000_000  # lamports added to the pool


def plain(value: object) -> object:
    """A decoded field as JSON: keys as base58, byte arrays as hex, enums by name."""
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, list | bytes):
        return bytes(value).hex()
    if isinstance(value, int | str | bool):
        return value
    return type(value).__name__  # anchorpy decodes unit enum variants as classes


async def main(rpc_url: str, idl_path: str, payer_path: str, pool_text: str, out: str) -> None:
    raw = Path(idl_path).read_text()
    idl = Idl.from_json(raw)
    program_id = Pubkey.from_string(json.loads(raw)["metadata"]["address"])
    payer = Keypair.from_bytes(bytes(json.loads(Path(payer_path).read_text())))
    client = AsyncClient(rpc_url, commitment=Confirmed)
    provider = Provider(client, Wallet(payer), TxOpts(preflight_commitment=Confirmed))
    program = Program(idl, program_id, provider)
    pool_key = Pubkey.from_string(pool_text)
    report: dict[str, object] = {}
    try:
        pool = await program.account["Pool"].fetch(pool_key)
        report["pool"] = {name: plain(getattr(pool, name)) for name in pool.__dataclass_fields__}

        accounts = {"funder": payer.pubkey(), "pool": pool_key, "system_program": SYSTEM_PROGRAM_ID}
        signature = await program.rpc["fund_pool"](AMOUNT, ctx=Context(accounts=accounts))
        await client.confirm_transaction(signature, Confirmed)
        tx = await client.get_transaction(signature, commitment=Confirmed)
        logs = tx.value.transaction.meta.log_messages
        events: list[dict[str, object]] = []
        EventParser(program_id, program.coder).parse_logs(
            logs,
            lambda e: events.append(
                {"name": e.name, **{k: plain(v) for k, v in e.data.__dict__.items()}}
            ),
        )
        report["fund"] = {"signature": str(signature), "events": events}
        report["after"] = plain((await program.account["Pool"].fetch(pool_key)).total_funded)

        try:
            await program.rpc["fund_pool"](0, ctx=Context(accounts=accounts))
            report["refused"] = None
        except ProgramError as error:
            names = {e["code"]: e["name"] for e in json.loads(raw)["errors"]}
            report["refused"] = {
                "code": error.code,
                "name": names.get(error.code),
                "msg": error.msg,
                "text": str(error),
                "log": next((line for line in error.logs or [] if "AnchorError" in line), None),
            }
    finally:
        await client.close()
    Path(out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
