#!/usr/bin/env python3
"""Writes the Anchor IDL (spec 0.1.0) of the fedstake program to stdout.

The program is not built with Anchor's macros, so there is no `anchor idl build`.
Instead the IDL is derived from the Rust sources, which stay the single source:

- instructions: the `### Accounts` and `### Data` doc sections of
  `src/instructions/<name>.rs` (the same text a reader of the program sees);
- accounts and events: the field lists of the structs in `src/state/*.rs` and
  `src/events.rs` (their `read`/`write` follow declaration order);
- errors: the `<code> <Name> "<message>",` table of `src/errors.rs` (the same
  table the program's Anchor error log lines are generated from);
- discriminators: `sha256("global:"/"account:"/"event:" + name)[..8]`.

Only the standard library is used so `make program` needs no virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

PROGRAM_DIR = Path(__file__).resolve().parent.parent
SRC = PROGRAM_DIR / "src"
PROGRAM_ID = "CEU4f5KSs8d4tNFuGtrzKadzHkDm1hHLQuKMt93qVUbG"
VERSION = "0.1.0"

INSTRUCTIONS = [
    "create_pool",
    "fund_pool",
    "join_pool",
    "start_training",
    "submit_update",
    "judge_submission",
    "finalize_round",
    "claim_reward",
    "withdraw_stake",
    "cancel_pool",
    "close_submission",
    "close_pool",
    "reveal_update",
    "expire_round",
    "expire_pool",
    "reclaim_funding",
    "settle_participant",
]
ACCOUNTS = {
    "Pool": "pool.rs",
    "Participant": "participant.rs",
    "Submission": "submission.rs",
    "Round": "round.rs",
}
ENUMS = {
    "PoolStatus": "pool.rs",
    "RewardPolicy": "pool.rs",
    "ParticipantStatus": "participant.rs",
    "Verdict": "submission.rs",
}

RUST_TYPES: dict[str, object] = {
    "u8": "u8",
    "u16": "u16",
    "u32": "u32",
    "u64": "u64",
    "i64": "i64",
    "bool": "bool",
    "Address": "pubkey",
    "Hash": {"array": ["u8", 32]},
    "Cid": {"array": ["u8", 64]},
}
DOC_TYPES: dict[str, object] = {
    "u8": "u8",
    "u16": "u16",
    "u32": "u32",
    "u64": "u64",
    "i64": "i64",
    "[32]": "pubkey",
    "[64]": {"array": ["u8", 64]},
}
HASH_ARG_SUFFIXES = ("_hash", "_commitment", "salt")


class IdlError(Exception):
    pass


def tag(namespace: str, name: str) -> list[int]:
    return list(hashlib.sha256(f"{namespace}:{name}".encode()).digest()[:8])


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def doc_section(text: str, heading: str) -> list[str]:
    lines = [line[3:].strip() if line.startswith("//!") else None for line in text.splitlines()]
    out: list[str] = []
    inside = False
    for line in lines:
        if line is None:
            continue
        if line.startswith("### "):
            inside = line == f"### {heading}" or line.startswith(f"### {heading} (")
            continue
        if inside and line:
            out.append(line)
    return out


def parse_accounts(lines: list[str], ix: str) -> list[dict[str, object]]:
    accounts = []
    for line in lines:
        m = re.match(r"\d+\.\s+`\[([A-Z, ]*)\]`\s+([a-z_ ]+?)(?:\s+PDA|\s+\(|$)", line)
        if not m:
            continue
        flags = {flag.strip() for flag in m.group(1).split(",") if flag.strip()}
        name = m.group(2).strip().replace(" ", "_")
        entry: dict[str, object] = {"name": name}
        if "WRITE" in flags:
            entry["writable"] = True
        if "SIGNER" in flags:
            entry["signer"] = True
        if name == "system_program":
            entry["address"] = "11111111111111111111111111111111"
        accounts.append(entry)
    if not accounts:
        raise IdlError(f"{ix}: no accounts parsed")
    return accounts


def parse_args(lines: list[str], ix: str) -> list[dict[str, object]]:
    text = " ".join(lines).strip("` ")
    if text == "none":
        return []
    text = re.sub(r"\([^)]*\)", "", text)
    text = text.split(" where ")[0]
    args = []
    for chunk in text.replace("`", "").split(","):
        parts = chunk.split()
        if len(parts) < 2:
            raise IdlError(f"{ix}: cannot parse argument {chunk!r}")
        name, doc_type = parts[0], parts[1]
        if doc_type not in DOC_TYPES:
            raise IdlError(f"{ix}: unknown type {doc_type!r} for {name}")
        idl_type = DOC_TYPES[doc_type]
        if doc_type == "[32]" and name.endswith(HASH_ARG_SUFFIXES):
            idl_type = {"array": ["u8", 32]}
        args.append({"name": name, "type": idl_type})
    return args


def parse_struct(text: str, name: str) -> list[dict[str, object]]:
    m = re.search(rf"pub struct {name} \{{(.*?)\n\}}", text, re.S)
    if not m:
        raise IdlError(f"struct {name} not found")
    fields = []
    for field, rust_type in re.findall(r"pub (\w+): ([\w\[\]; ]+),", m.group(1)):
        if rust_type in RUST_TYPES:
            idl_type = RUST_TYPES[rust_type]
        elif rust_type in ENUMS:
            idl_type = {"defined": {"name": rust_type}}
        else:
            array = re.fullmatch(r"\[u8; (\d+)\]", rust_type)
            if not array:
                raise IdlError(f"{name}.{field}: unsupported type {rust_type}")
            idl_type = {"array": ["u8", int(array.group(1))]}
        fields.append({"name": field, "type": idl_type})
    return fields


def parse_enum(text: str, name: str) -> list[dict[str, str]]:
    m = re.search(rf"pub enum {name} \{{(.*?)\n\}}", text, re.S)
    if not m:
        raise IdlError(f"enum {name} not found")
    return [{"name": variant} for variant in re.findall(r"(\w+) = \d+,", m.group(1))]


def parse_errors(text: str) -> list[dict[str, object]]:
    table = re.search(r"fedstake_errors! \{(.*?)\n\}", text, re.S)
    if not table:
        raise IdlError("fedstake_errors! table not found in errors.rs")
    errors = [
        {"code": int(code), "name": name, "msg": msg}
        for code, name, msg in re.findall(r'^\s*(\d{4}) (\w+) "([^"]*)",', table.group(1), re.M)
    ]
    codes = [error["code"] for error in errors]
    if not errors or codes != list(range(6000, 6000 + len(errors))):
        raise IdlError(f"error codes are not sequential from 6000: {codes}")
    return errors


def event_names(text: str) -> list[str]:
    return re.findall(r"impl Event for (\w+)", text)


def build() -> dict[str, object]:
    instructions = []
    for ix in INSTRUCTIONS:
        text = (SRC / "instructions" / f"{ix}.rs").read_text()
        instructions.append(
            {
                "name": ix,
                "docs": [line for line in doc_section_intro(text)],
                "discriminator": tag("global", ix),
                "accounts": parse_accounts(doc_section(text, "Accounts"), ix),
                "args": parse_args(doc_section(text, "Data"), ix),
            }
        )
    types = []
    for name, file in ACCOUNTS.items():
        text = (SRC / "state" / file).read_text()
        types.append({"name": name, "type": {"kind": "struct", "fields": parse_struct(text, name)}})
    for name, file in ENUMS.items():
        text = (SRC / "state" / file).read_text()
        types.append({"name": name, "type": {"kind": "enum", "variants": parse_enum(text, name)}})
    events_text = (SRC / "events.rs").read_text()
    events = event_names(events_text)
    for name in events:
        types.append(
            {"name": name, "type": {"kind": "struct", "fields": parse_struct(events_text, name)}}
        )
    return {
        "address": PROGRAM_ID,
        "metadata": {
            "name": "fedstake",
            "version": VERSION,
            "spec": "0.1.0",
            "description": "Incentivized federated learning pools",
        },
        "instructions": instructions,
        "accounts": [{"name": name, "discriminator": tag("account", name)} for name in ACCOUNTS],
        "events": [{"name": name, "discriminator": tag("event", name)} for name in events],
        "errors": parse_errors((SRC / "errors.rs").read_text()),
        "types": types,
    }


def doc_section_intro(text: str) -> list[str]:
    """The module doc up to the first `###` heading, as one paragraph."""
    intro: list[str] = []
    for line in text.splitlines():
        if not line.startswith("//!"):
            break
        body = line[3:].strip()
        if body.startswith("###"):
            break
        intro.append(body)
    return [" ".join(part for part in intro if part).replace("`", "")]


def main() -> int:
    try:
        idl = build()
    except IdlError as exc:
        print(f"build_idl: {exc}", file=sys.stderr)
        return 1
    json.dump(idl, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
