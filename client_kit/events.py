"""Program events, parsed from `Program data:` log lines (Anchor's channel)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from client_kit.idl import Idl, IdlCodecError, load_idl


@dataclass(frozen=True)
class ProgramEvent:
    name: str
    fields: dict[str, Any]


def parse_event(payload: bytes, idl: Idl | None = None) -> ProgramEvent | None:
    """Decodes one `sol_log_data` payload; None if it is not a fedstake event."""
    idl = idl or load_idl()
    for entry in idl.raw["events"]:
        if payload[:8] == bytes(entry["discriminator"]):
            fields = idl.type_def(entry["name"])["fields"]
            try:
                values, end = idl.decode_fields(fields, payload, 8)
            except IdlCodecError:
                return None
            if end != len(payload):
                return None
            return ProgramEvent(entry["name"], values)
    return None


def events_from_logs(logs: list[str], idl: Idl | None = None) -> list[ProgramEvent]:
    """Every fedstake event in a transaction's log messages, in order."""
    out: list[ProgramEvent] = []
    for line in logs:
        if not line.startswith("Program data: "):
            continue
        for chunk in line[len("Program data: ") :].split():
            try:
                payload = base64.b64decode(chunk, validate=True)
            except ValueError:
                continue
            event = parse_event(payload, idl)
            if event is not None:
                out.append(event)
    return out
