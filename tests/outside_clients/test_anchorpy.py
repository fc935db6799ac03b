"""fedstake from anchorpy 0.21, in its own venv, with the legacy-format IDL, on Surfpool.

We open and fund a pool with client_kit; `tests/anchorpy/pool_check.py`, run
by anchorpy's venv, decodes that Pool, funds it through anchorpy's `Program`,
parses the event, and sends a refused call. Its decoded fields must be the ones
client_kit reads, its funding must land, and the refusal must carry the
program's error number and message. The README's anchorpy example is
`tests/anchorpy/example.py`, run here as well.
"""

from __future__ import annotations

import json

import pytest
from solders.keypair import Keypair

from client_kit.actions.reads import load_pool
from client_kit.gateway.base import ChainGateway
from client_kit.idl import load_idl
from tests.conftest import Surfnet
from tests.outside_clients.clients import (
    ANCHORPY,
    ANCHORPY_VENV,
    LEGACY_IDL,
    ROOT,
    install_or_skip,
    run,
)
from tests.pools import SOL, PoolScenario

pytestmark = [pytest.mark.validator, pytest.mark.timeout(600)]
AMOUNT = 250_000_000  # what pool_check.py adds


@pytest.fixture(scope="module")
def anchorpy_python() -> str:
    install_or_skip("install_anchorpy.sh", "anchorpy 0.21's venv")
    return str(ANCHORPY_VENV / "bin" / "python")


async def _joined_pool(chain: ChainGateway, tmp_path) -> PoolScenario:  # type: ignore[no-untyped-def]
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create()
    await world.fund(SOL)
    await world.join(await world.new_trainer())
    return world


def _payer(surfnet: Surfnet) -> str:
    return str(surfnet.stop.payer_keypair_path)


async def test_anchorpy_decodes_a_pool_and_funds_it_through_its_program(
    anchorpy_python: str, surfnet: Surfnet, rpc_chain: ChainGateway, tmp_path
) -> None:
    world = await _joined_pool(rpc_chain, tmp_path)
    before = await load_pool(rpc_chain, world.key)
    out = tmp_path / "report.json"
    script = ANCHORPY / "pool_check.py"
    run([anchorpy_python, script, surfnet.rpc_url, LEGACY_IDL, _payer(surfnet), world.key, out])
    report = json.loads(out.read_text())

    decoded = report["pool"]
    assert decoded["organization"] == str(before.organization)
    assert decoded["aggregator"] == str(before.aggregator)
    assert decoded["pool_id"] == before.pool_id
    assert decoded["status"] == before.status.value == "Open"
    assert decoded["reward_policy"] == before.reward_policy.value
    assert decoded["global_model_hash"] == before.global_model_hash.hex()
    assert decoded["participant_count"] == 1 and decoded["total_staked"] == before.total_staked
    assert decoded["total_funded"] == before.total_funded == SOL

    after = await load_pool(rpc_chain, world.key)
    assert after.total_funded == report["after"] == SOL + AMOUNT
    payer = Keypair.from_json(surfnet.stop.payer_keypair_path.read_text()).pubkey()
    assert report["fund"]["events"] == [
        {
            "name": "PoolFunded",
            "pool": str(world.key),
            "funder": str(payer),
            "amount": AMOUNT,
            "total_funded": SOL + AMOUNT,
        }
    ]


async def test_anchorpy_reports_the_programs_error(
    anchorpy_python: str, surfnet: Surfnet, rpc_chain: ChainGateway, tmp_path
) -> None:
    world = await _joined_pool(rpc_chain, tmp_path)
    out = tmp_path / "report.json"
    script = ANCHORPY / "pool_check.py"
    run([anchorpy_python, script, surfnet.rpc_url, LEGACY_IDL, _payer(surfnet), world.key, out])
    refused = json.loads(out.read_text())["refused"]
    code, (name, msg) = next(
        (code, entry)
        for code, entry in load_idl().errors_by_code().items()
        if entry[0] == "InvalidAmount"
    )
    assert (refused["code"], refused["name"], refused["msg"]) == (code, name, msg)
    assert refused["log"] == (
        f"Program log: AnchorError occurred. Error Code: {name}. "
        f"Error Number: {code}. Error Message: {msg}."
    )
    print(f"anchorpy: {refused['text']} (log: {refused['log']})")


async def test_the_readme_anchorpy_example_runs(
    anchorpy_python: str, surfnet: Surfnet, rpc_chain: ChainGateway, tmp_path
) -> None:
    example = (ANCHORPY / "example.py").read_text()
    assert example in (ROOT / "README.md").read_text(), "README must show example.py verbatim"
    world = await _joined_pool(rpc_chain, tmp_path)
    pool_id = (await load_pool(rpc_chain, world.key)).pool_id
    example = [anchorpy_python, ANCHORPY / "example.py", surfnet.rpc_url, _payer(surfnet)]
    lines = run([*example, world.key]).splitlines()
    assert lines[0] == f"pool {pool_id} Open {SOL}"
    assert (await load_pool(rpc_chain, world.key)).total_funded == SOL + 100_000_000
    code, (_, msg) = next(
        (code, entry)
        for code, entry in load_idl().errors_by_code().items()
        if entry[0] == "InvalidAmount"
    )
    assert lines[1] == f"refused: {code} {msg}"
