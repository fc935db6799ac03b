"""The IDL every client reads: discriminators, freshness, and the coder's layouts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from client_kit.accounts import ACCOUNT_TYPES
from client_kit.idl import DEFAULT_IDL_PATH, REPO_ROOT, load_idl

LEGACY_IDL_PATH = DEFAULT_IDL_PATH.with_name("fedstake.legacy.json")


def _tag(namespace: str, name: str) -> list[int]:
    return list(hashlib.sha256(f"{namespace}:{name}".encode()).digest()[:8])


def test_every_discriminator_is_recomputed_from_its_name() -> None:
    idl = load_idl().raw
    assert len(idl["instructions"]) == 17
    for ix in idl["instructions"]:
        assert ix["discriminator"] == _tag("global", ix["name"]), ix["name"]
    for account in idl["accounts"]:
        assert account["discriminator"] == _tag("account", account["name"])
    for event in idl["events"]:
        assert event["discriminator"] == _tag("event", event["name"])
    assert [e["code"] for e in idl["errors"]] == list(range(6000, 6000 + len(idl["errors"])))


@pytest.mark.parametrize(
    ("flags", "committed"),
    [([], DEFAULT_IDL_PATH), (["--legacy"], LEGACY_IDL_PATH)],
    ids=["anchor-0.30", "legacy"],
)
def test_checked_in_idl_matches_the_rust_sources(flags: list[str], committed: Path) -> None:
    script = REPO_ROOT / "programs" / "fedstake" / "idl" / "build_idl.py"
    fresh = subprocess.run(
        [sys.executable, str(script), *flags], check=True, capture_output=True, text=True
    )
    assert json.loads(fresh.stdout) == json.loads(committed.read_text()), (
        f"{committed} is stale: run `make program`"
    )


def test_typed_accounts_follow_the_idl_field_order() -> None:
    idl = load_idl()
    for name, cls in ACCOUNT_TYPES.items():
        idl_fields = [f["name"] for f in idl.type_def(name)["fields"]]
        assert [f.name for f in fields(cls)] == idl_fields, name


def _generator():  # type: ignore[no-untyped-def]
    import importlib.util

    path = REPO_ROOT / "programs" / "fedstake" / "idl" / "build_idl.py"
    spec = importlib.util.spec_from_file_location("build_idl", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_idl"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("account_lines", "message"),
    [
        (['1. `[]` pool PDA `["pool", pool.organization, nobody]`'], "no constant, argument"),
        (['1. `[]` pool PDA `["pool", pool.organization, pool.round]`'], "do not fit"),
        (['1. `[]` pool PDA `["pool", pool.organisation, pool.pool_id]`'], "no field"),
        (['1. `[]` round PDA `["round", pool, 1u64]`', "2. `[]` pool"], "do not fit"),
        (['1. `[]` pool PDA `["vault", pool]`'], "no account type"),
        (
            ['1. `[]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `aggregator`'],
            "no such account",
        ),
        (['1. `[]` pool PDA `["pool", pool.organization, pool.pool_id]` and so'], "unexpected"),
    ],
)
def test_seed_annotations_that_do_not_fit_the_program_are_refused_by_name(
    account_lines: list[str], message: str
) -> None:
    gen = _generator()
    structs = {
        name: gen.parse_struct((gen.SRC / "state" / f).read_text(), name)
        for name, f in gen.ACCOUNTS.items()
    }
    with pytest.raises(gen.IdlError, match=message):
        doc = gen.InstructionDoc("probe", [], gen.parse_accounts(account_lines, "probe"), [])
        gen.resolve_seeds(doc, structs, gen.seed_templates())


def test_arithmetic_seeds_are_left_out_like_anchor_does() -> None:
    gen = _generator()
    structs = {"Round": gen.parse_struct((gen.SRC / "state" / "round.rs").read_text(), "Round")}
    lines = ["1. `[]` pool", '2. `[]` next round PDA `["round", pool, round + 1]`']
    doc = gen.InstructionDoc("probe", [], gen.parse_accounts(lines, "probe"), [])
    gen.resolve_seeds(doc, structs, gen.seed_templates())
    assert doc.accounts[1].seeds is None
