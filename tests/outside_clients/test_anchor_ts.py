"""fedstake from Anchor's own TypeScript client, @coral-xyz/anchor 0.32.1, on Surfpool.

`tests/anchor_ts/pool_life.js` calls every instruction through
`program.methods.*().accounts({...}).rpc()` with only the accounts Anchor cannot
resolve from the IDL, decodes every account type and event, and collects one
refused call of each kind. Here we check its report against our own reading of
the IDL: the errors Anchor names are the program's (name, number, message, the
logged line), and the events are the program's. The README's TypeScript example
is the file `tests/anchor_ts/example.js`, run here as well.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from client_kit.idl import load_idl
from tests.conftest import Surfnet
from tests.outside_clients.clients import ANCHOR_TS, IDL, ROOT, install_or_skip, run

pytestmark = [pytest.mark.validator, pytest.mark.timeout(600)]

#: one refused call of each kind, and the error Anchor must name for it
REFUSALS = [
    ("signer", "MissingSigner"),
    ("relation", "Unauthorized"),
    ("status", "InvalidPoolStatus"),
    ("deadline", "RoundDeadlinePassed"),
]


def _camel(name: str) -> str:
    """The name Anchor's TS client gives an IDL name (`create_pool` → `createPool`,
    `PoolCreated` → `poolCreated`)."""
    head, *rest = name.split("_")
    joined = head + "".join(part.capitalize() for part in rest)
    return joined[0].lower() + joined[1:]


@pytest.fixture(scope="module")
def anchor_env(request: pytest.FixtureRequest) -> dict[str, str]:
    install_or_skip("install_ts.sh", "@coral-xyz/anchor (node, npm)")  # before Surfpool starts
    surfnet: Surfnet = request.getfixturevalue("surfnet")
    return {
        "ANCHOR_PROVIDER_URL": surfnet.rpc_url,
        "ANCHOR_WALLET": str(surfnet.stop.payer_keypair_path),
    }


@pytest.fixture(scope="module")
def report(anchor_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("anchor_ts") / "report.json"
    run(["node", ANCHOR_TS / "pool_life.js", IDL, out], anchor_env)
    return json.loads(out.read_text())


def test_every_instruction_runs_through_anchor_with_pdas_from_the_idl(report: dict) -> None:
    assert report["anchor"] == "0.32.1"
    called = set(report["calls"])
    assert called == {_camel(ix["name"]) for ix in load_idl().raw["instructions"]}


def test_every_refusal_surfaces_as_the_programs_named_error(report: dict) -> None:
    errors = load_idl().errors_by_code()
    numbers = {name: code for code, (name, _) in errors.items()}
    assert [(e["kind"], e["code"]) for e in report["errors"]] == REFUSALS
    for error in report["errors"]:
        number = numbers[error["code"]]
        assert error["number"] == number
        assert error["message"] == errors[number][1]
        assert error["log"] == (
            f"Program log: AnchorError occurred. Error Code: {error['code']}. "
            f"Error Number: {number}. Error Message: {errors[number][1]}."
        )
        print(f"{error['kind']}: {error['text']}")  # what a TS caller sees


def test_events_decode_to_the_programs_events(report: dict) -> None:
    names = {_camel(e["name"]) for e in load_idl().raw["events"]}
    seen = [e["name"] for e in report["events"]]
    assert set(seen) <= names
    life = [e["name"] for e in report["events"] if e["instruction"] != "joinPool"][:6]
    assert life == [
        "poolCreated",
        "poolFunded",
        "trainingStarted",
        "updateSubmitted",
        "updateSubmitted",
        "updateRevealed",
    ]
    assert {"roundFinalized", "rewardClaimed", "roundExpired", "participantSettled"} <= set(seen)


def test_accounts_decode_with_the_values_the_program_wrote(report: dict) -> None:
    assert report["accounts"]["pool"] == {
        "status": "finished",
        "totalAccrued": str(900_000_000),
        "poolId": "1",
    }
    assert report["accounts"]["participant"]["rewardAccrued"] == str(600_000_000)
    assert report["accounts"]["round"] == {"judgedCount": 2, "totalScore": 9_000}
    assert report["accounts"]["submission"] == {"verdict": "accepted", "score": 6_000}


def test_the_readme_typescript_example_runs(anchor_env: dict[str, str]) -> None:
    example = (ANCHOR_TS / "example.js").read_text()
    assert example in (ROOT / "README.md").read_text(), "README must show example.js verbatim"
    out = run(["node", ANCHOR_TS / "example.js", IDL], anchor_env)
    pool, status, funded = out.splitlines()[0].split()
    assert status == "open" and funded == "3000000000"
    assert re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{32,44}", pool)
    refused = out.splitlines()[1]
    assert refused.startswith("InvalidAmount 60"), out
    assert Path(IDL).is_file()
