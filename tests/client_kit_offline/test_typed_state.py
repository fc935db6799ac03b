"""Typed state follows the IDL exactly: enums variant for variant, one event
class per IDL event with the IDL's fields, one account class per IDL account.
A program change that adds or renames a variant, event or field fails here."""

from __future__ import annotations

from dataclasses import fields

from client_kit.accounts import ACCOUNT_TYPES
from client_kit.enums import IDL_ENUMS, ParticipantStatus, PoolStatus, RewardPolicy, Verdict
from client_kit.events import EVENT_TYPES
from client_kit.idl import REASON_FIELDS, load_idl


def test_each_enum_matches_its_idl_variants_exactly() -> None:
    idl = load_idl()
    idl_enums = {t["name"] for t in idl.raw["types"] if t["type"]["kind"] == "enum"}
    assert set(IDL_ENUMS) == idl_enums
    for name, enum_cls in IDL_ENUMS.items():
        assert [member.value for member in enum_cls] == idl.enum_variants(name), name
        assert [member.tag for member in enum_cls] == list(range(len(enum_cls)))
    assert (PoolStatus, RewardPolicy, ParticipantStatus, Verdict) == tuple(IDL_ENUMS.values())


def test_every_idl_event_has_its_typed_class() -> None:
    idl = load_idl()
    assert list(EVENT_TYPES) == [event["name"] for event in idl.raw["events"]]
    for name, cls in EVENT_TYPES.items():
        idl_fields = [f["name"] for f in idl.type_def(name)["fields"]]
        assert [f.name for f in fields(cls)] == idl_fields, name


def test_every_idl_account_has_its_typed_class() -> None:
    idl = load_idl()
    assert list(ACCOUNT_TYPES) == [account["name"] for account in idl.raw["accounts"]]


def test_reasons_sit_in_u8_fields_and_verdicts_in_the_verdict_enum() -> None:
    # Reasons are u8 codes on chain (ranges, not an IDL enum); accounts and
    # events carry the verdict as the IDL's Verdict enum. If the program types
    # them otherwise, update enums.py and idl.REASON_FIELDS.
    idl = load_idl()
    reasons, verdicts = set(), set()
    for entry in idl.raw["types"]:
        if entry["type"]["kind"] != "struct":
            continue
        for f in entry["type"]["fields"]:
            if f["name"] in REASON_FIELDS:
                assert f["type"] == "u8", entry["name"]
                reasons.add(entry["name"])
            if f["name"] == "verdict":
                assert f["type"] == {"defined": {"name": "Verdict"}}, entry["name"]
                verdicts.add(entry["name"])
    assert reasons == verdicts == {"Submission", "SubmissionJudged"}
