"""The API's models keep up with the program: every account field is served
(or deliberately left out), every integer has a unit, and the feed's schema
has a frame for every event."""

from __future__ import annotations

from dataclasses import fields
from typing import get_type_hints

import pytest

from client_kit.accounts import Participant, Pool, Round, Submission
from client_kit.events import EVENT_TYPES, SubmissionJudged
from frontend_api.feed.frames import EVENT_FRAMES, SERVER_FRAMES, feed_schema
from frontend_api.schemas import ParticipantOut, PoolOut, RoundOut, SubmissionOut
from frontend_api.units import FIELD_UNITS

# fields a view leaves out on purpose (PDA bumps are an implementation detail)
LEFT_OUT = {"bump", "first_round_bump"}  # address details, not state


@pytest.mark.parametrize(
    ("account", "model"),
    [
        (Pool, PoolOut),
        (Participant, ParticipantOut),
        (Round, RoundOut),
        (Submission, SubmissionOut),
    ],
)
def test_every_account_field_is_served(account: type, model: type) -> None:
    missing = {f.name for f in fields(account)} - set(model.model_fields) - LEFT_OUT
    assert missing == set(), f"{model.__name__} lacks {sorted(missing)}"


@pytest.mark.parametrize("model", [PoolOut, ParticipantOut, RoundOut, SubmissionOut])
def test_every_integer_of_a_view_says_its_unit(model: type) -> None:
    schema = model.model_json_schema()
    plain = [
        name
        for name, spec in schema["properties"].items()
        if spec.get("type") == "integer"
        and "[" not in spec.get("description", "")
        and "x-unit" not in spec
        and name not in ("pool_id", "round", "reason_code")
    ]
    assert plain == []


def test_every_integer_field_of_every_event_and_account_has_a_unit() -> None:
    types = [*EVENT_TYPES.values(), Pool, Participant, Round, Submission]
    unknown = sorted(
        f"{cls.__name__}.{name}"
        for cls in types
        for name, hint in get_type_hints(cls).items()
        if hint is int and name not in FIELD_UNITS and name not in LEFT_OUT
    )
    assert unknown == []


def test_the_feed_schema_has_a_frame_for_every_event() -> None:
    assert set(EVENT_FRAMES) == set(EVENT_TYPES) - {SubmissionJudged.NAME}  # judged: receipts
    server = feed_schema()["server"]
    text = str(server)
    for name in EVENT_FRAMES:
        assert f"{name}Event" in text
    assert {"hello", "receipt", "gap", "heartbeat", "error", "evaluation"} <= {
        variant for variant in server["discriminator"]["mapping"]
    }


def test_an_invalid_frame_does_not_validate() -> None:
    with pytest.raises(ValueError):
        SERVER_FRAMES.validate_python({"type": "receipt", "cursor": "1:2:3"})
