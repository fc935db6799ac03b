"""The IDL every client reads: discriminators, freshness, and the coder's layouts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import fields

from client_kit.accounts import ACCOUNT_TYPES
from client_kit.idl import DEFAULT_IDL_PATH, REPO_ROOT, load_idl


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


def test_checked_in_idl_matches_the_rust_sources() -> None:
    script = REPO_ROOT / "programs" / "fedstake" / "idl" / "build_idl.py"
    fresh = subprocess.run(
        [sys.executable, str(script)], check=True, capture_output=True, text=True
    )
    assert json.loads(fresh.stdout) == json.loads(DEFAULT_IDL_PATH.read_text())


def test_typed_accounts_follow_the_idl_field_order() -> None:
    idl = load_idl()
    for name, cls in ACCOUNT_TYPES.items():
        idl_fields = [f["name"] for f in idl.type_def(name)["fields"]]
        assert [f.name for f in fields(cls)] == idl_fields, name
