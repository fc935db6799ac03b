"""Read a fedstake pool and fund it with anchorpy 0.21 (the legacy-format IDL).
    .tools/anchorpy-venv/bin/python tests/anchorpy/example.py URL KEYPAIR POOL
"""

import asyncio
import json
import sys
from pathlib import Path

from anchorpy import Context, Idl, Program, Provider, Wallet
from anchorpy.error import ProgramError
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID


async def main(url: str, keypair: str, pool_address: str) -> None:
    raw = (Path(__file__).parents[2] / "target/idl/fedstake.legacy.json").read_text()
    program_id = Pubkey.from_string(json.loads(raw)["metadata"]["address"])
    payer = Keypair.from_json(Path(keypair).read_text())
    program = Program(Idl.from_json(raw), program_id, Provider(AsyncClient(url), Wallet(payer)))
    pool = Pubkey.from_string(pool_address)
    state = await program.account["Pool"].fetch(pool)
    print("pool", state.pool_id, type(state.status).__name__, state.total_funded)
    accounts = {"funder": payer.pubkey(), "pool": pool, "system_program": SYSTEM_PROGRAM_ID}
    await program.rpc["fund_pool"](100_000_000, ctx=Context(accounts=accounts))
    try:
        await program.rpc["fund_pool"](0, ctx=Context(accounts=accounts))
    except ProgramError as error:  # the code and message of the IDL's error
        print("refused:", error.code, error.msg)
    await program.close()


asyncio.run(main(*sys.argv[1:]))
