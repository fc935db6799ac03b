#!/usr/bin/env python3
"""Writes the Anchor IDL of the fedstake program, in two formats.

- `fedstake.json`: Anchor ≥ 0.30's IDL (spec 0.1.0), what `anchor idl build`
  writes and `@coral-xyz/anchor` ≥ 0.30 reads;
- `fedstake.legacy.json`: the same program in the pre-0.30 format (anchor-syn
  0.29: camelCase names, `isMut`/`isSigner`, `publicKey`, events with their
  fields), the only one anchorpy 0.21 reads.

The program is not built with Anchor's macros, so there is no `anchor idl build`.
Instead the IDL is derived from the Rust sources, which stay the single source:

- instructions: the `### Accounts` and `### Data` doc sections of
  `src/instructions/<name>.rs` (the same text a reader of the program sees),
  including each account's `PDA [seeds]` and `has_one` list (their notation is
  described in `src/instructions/mod.rs`), which become `pda.seeds` and
  `relations` the way Anchor's own IDL generator writes them;
- accounts and events: the field lists of the structs in `src/state/*.rs` and
  `src/events.rs` (their `read`/`write` follow declaration order); each state
  file's first doc line gives the account's seed template, against which every
  instruction's seeds are checked (constant prefix, count, integer widths);
- errors: the `<code> <Name> "<message>",` table of `src/errors.rs` (the same
  table the program's Anchor error log lines are generated from);
- discriminators: `sha256("global:"/"account:"/"event:" + name)[..8]`.

Usage: `build_idl.py` prints the IDL, `build_idl.py --legacy` the legacy one,
`build_idl.py --out DIR` writes both files into DIR.

Only the standard library is used so `make program` needs no virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
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


SYSTEM_PROGRAM = "11111111111111111111111111111111"
INT_WIDTHS = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}
ACCOUNT_ITEM = re.compile(
    r"\d+\.\s+`\[(?P<flags>[A-Z, ]*)\]`\s+(?P<name>[a-z][a-z ]*?)"
    r"(?=\s+PDA\b|\s+has_one\b|\s+\(|$)(?P<rest>.*)"
)
SEED_TEMPLATE = re.compile(r"//! `(\w+)` — seeds `\[(.*)\]`")


@dataclass(frozen=True)
class Seed:
    """One PDA seed: `kind` const (`value` bytes), arg or account (`path`).

    `type` is the seed's IDL type (for the legacy format and the template
    check); `account` the account type whose data `path` reads, or whose key it
    is (the legacy format names it for keys too).
    """

    kind: str
    type: object
    value: bytes = b""
    path: str = ""
    account: str | None = None


@dataclass
class AccountDoc:
    """One entry of an instruction's `### Accounts` list, as parsed."""

    name: str
    docs: str
    writable: bool
    signer: bool
    seed_text: list[str] | None
    has_one: list[str]
    seeds: list[Seed] | None = None
    relations: list[str] = field(default_factory=list)


@dataclass
class InstructionDoc:
    name: str
    docs: list[str]
    accounts: list[AccountDoc]
    args: list[dict[str, object]]


def seed_templates() -> dict[str, list[object]]:
    """Account type → its seed template from the state file's first doc line:
    constants as bytes, other seeds as their IDL type (`x (u64 LE)` → u64,
    a bare name → pubkey)."""
    templates: dict[str, list[object]] = {}
    for name, file in ACCOUNTS.items():
        m = SEED_TEMPLATE.match((SRC / "state" / file).read_text())
        if not m or m.group(1) != name:
            raise IdlError(f"state/{file}: first line must be `{name}` — seeds `[...]`")
        template: list[object] = []
        for part in (p.strip() for p in m.group(2).split(",")):
            if part.startswith('"'):
                template.append(part.strip('"').encode())
                continue
            width = re.fullmatch(r"\w+ \((u\d+) LE\)", part)
            template.append(width.group(1) if width else "pubkey")
        templates[name] = template
    return templates


def account_items(lines: list[str]) -> list[str]:
    """The numbered items of an `### Accounts` list, continuation lines joined."""
    items: list[str] = []
    for line in lines:
        if re.match(r"\d+\.\s", line):
            items.append(line)
        elif items:
            items[-1] += " " + line
    return items


def parse_accounts(lines: list[str], ix: str) -> list[AccountDoc]:
    accounts = []
    for item in account_items(lines):
        m = ACCOUNT_ITEM.fullmatch(item)
        if not m:
            raise IdlError(f"{ix}: cannot parse account line {item!r}")
        flags = {flag.strip() for flag in m.group("flags").split(",") if flag.strip()}
        rest = m.group("rest")
        pda = re.search(r"\bPDA\s+`\[([^`]*)\]`", rest)
        has_one = re.search(r"\bhas_one\s+`([^`]*)`", rest)
        remark = re.sub(r"\bPDA\s+`[^`]*`|\bhas_one\s+`[^`]*`", "", rest).strip()
        if remark and not (remark.startswith("(") and remark.endswith(")")):
            raise IdlError(f"{ix}: unexpected text after an account: {remark!r}")
        accounts.append(
            AccountDoc(
                name=m.group("name").strip().replace(" ", "_"),
                docs=remark[1:-1].replace("`", ""),
                writable="WRITE" in flags,
                signer="SIGNER" in flags,
                seed_text=[s.strip() for s in pda.group(1).split(",")] if pda else None,
                has_one=[h.strip() for h in has_one.group(1).split(",")] if has_one else [],
            )
        )
    if not accounts:
        raise IdlError(f"{ix}: no accounts parsed")
    return accounts


def account_type(account: AccountDoc, templates: dict[str, list[object]], ix: str) -> str | None:
    """The account type a PDA account holds, known from its constant first seed."""
    if not account.seed_text:
        return None
    first = account.seed_text[0].strip('"').encode()
    for name, template in templates.items():
        if template[0] == first:
            return name
    raise IdlError(f"{ix}.{account.name}: no account type has seeds starting with {first!r}")


def resolve_seeds(
    ix: InstructionDoc,
    structs: dict[str, list[dict[str, object]]],
    templates: dict[str, list[object]],
) -> None:
    """Turns each account's seed text into `Seed`s and each `has_one` into the
    target account's `relations`, checking every name against the instruction's
    accounts and arguments, the account structs and the seed templates."""
    accounts = {a.name: a for a in ix.accounts}
    args = {str(arg["name"]): arg["type"] for arg in ix.args}
    types = {a.name: account_type(a, templates, ix.name) for a in ix.accounts}

    def field_type(account: str, field_name: str) -> object:
        type_name = types.get(account)
        if type_name is None:
            raise IdlError(f"{ix.name}: {account}.{field_name} needs {account} to be a PDA")
        for f in structs[type_name]:
            if f["name"] == field_name:
                return f["type"]
        raise IdlError(f"{ix.name}: {type_name} has no field {field_name}")

    def seed(text: str) -> Seed | None:
        if text.startswith('"'):
            return Seed("const", "bytes", value=text.strip('"').encode())
        if re.search(r"[-+*/%]", text):
            return None  # arithmetic: not expressible in an IDL (Anchor skips it too)
        number = re.fullmatch(r"(\d+)(u8|u16|u32|u64)", text)
        if number:
            value = int(number.group(1)).to_bytes(INT_WIDTHS[number.group(2)], "little")
            return Seed("const", number.group(2), value=value)
        dotted = re.fullmatch(r"(\w+)\.(\w+)", text)
        if dotted:
            owner, field_name = dotted.groups()
            if owner not in accounts:
                raise IdlError(f"{ix.name}: seed {text}: no account {owner}")
            return Seed("account", field_type(owner, field_name), path=text, account=types[owner])
        if text in args:  # arguments shadow accounts, as in Anchor's generator
            return Seed("arg", args[text], path=text)
        if text in accounts:
            return Seed("account", "pubkey", path=text, account=types[text])
        raise IdlError(f"{ix.name}: seed {text!r} is no constant, argument or account")

    for account in ix.accounts:
        if account.seed_text is not None:
            seeds = [seed(text) for text in account.seed_text]
            if all(s is not None for s in seeds):
                account.seeds = [s for s in seeds if s is not None]
                check_template(ix.name, account, templates[str(types[account.name])])
        for target in account.has_one:
            if target not in accounts:
                raise IdlError(f"{ix.name}: {account.name} has_one {target}: no such account")
            if field_type(account.name, target) != "pubkey":
                raise IdlError(f"{ix.name}: {account.name}.{target} is not a key")
            accounts[target].relations.append(account.name)


def check_template(ix: str, account: AccountDoc, template: list[object]) -> None:
    """The seeds must fit the account type's template: same constants, and each
    other seed of the template's type (a u32 where a u32 is hashed, ...)."""
    seeds = account.seeds or []
    shape = [s.value if s.kind == "const" and s.type == "bytes" else s.type for s in seeds]
    if shape != template:
        raise IdlError(f"{ix}.{account.name}: seeds {shape} do not fit the template {template}")


def render_account(account: AccountDoc) -> dict[str, object]:
    """An instruction account in Anchor ≥ 0.30's IDL (key order as Anchor writes it)."""
    entry: dict[str, object] = {"name": account.name}
    if account.docs:
        entry["docs"] = [account.docs]
    if account.writable:
        entry["writable"] = True
    if account.signer:
        entry["signer"] = True
    if account.name == "system_program":
        entry["address"] = SYSTEM_PROGRAM
    if account.seeds is not None:
        entry["pda"] = {"seeds": [render_seed(s) for s in account.seeds]}
    if account.relations:
        entry["relations"] = account.relations
    return entry


def render_seed(seed: Seed) -> dict[str, object]:
    if seed.kind == "const":
        return {"kind": "const", "value": list(seed.value)}
    out: dict[str, object] = {"kind": seed.kind, "path": seed.path}
    if seed.kind == "account" and "." in seed.path:
        out["account"] = seed.account
    return out


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
    for field_name, rust_type in re.findall(r"pub (\w+): ([\w\[\]; ]+),", m.group(1)):
        if rust_type in RUST_TYPES:
            idl_type = RUST_TYPES[rust_type]
        elif rust_type in ENUMS:
            idl_type = {"defined": {"name": rust_type}}
        else:
            array = re.fullmatch(r"\[u8; (\d+)\]", rust_type)
            if not array:
                raise IdlError(f"{name}.{field_name}: unsupported type {rust_type}")
            idl_type = {"array": ["u8", int(array.group(1))]}
        fields.append({"name": field_name, "type": idl_type})
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


def instruction_docs(structs: dict[str, list[dict[str, object]]]) -> list[InstructionDoc]:
    templates = seed_templates()
    out = []
    for ix in INSTRUCTIONS:
        text = (SRC / "instructions" / f"{ix}.rs").read_text()
        doc = InstructionDoc(
            name=ix,
            docs=doc_section_intro(text),
            accounts=parse_accounts(doc_section(text, "Accounts"), ix),
            args=parse_args(doc_section(text, "Data"), ix),
        )
        resolve_seeds(doc, structs, templates)
        out.append(doc)
    return out


def sources() -> tuple[list[InstructionDoc], dict[str, list[dict[str, object]]], list[str]]:
    """Everything both formats are rendered from: the instructions, the field
    lists of accounts and events (by name) and the event names."""
    structs: dict[str, list[dict[str, object]]] = {}
    for name, file in ACCOUNTS.items():
        structs[name] = parse_struct((SRC / "state" / file).read_text(), name)
    events_text = (SRC / "events.rs").read_text()
    events = event_names(events_text)
    for name in events:
        structs[name] = parse_struct(events_text, name)
    return instruction_docs(structs), structs, events


def enum_types() -> list[dict[str, object]]:
    return [
        {
            "name": name,
            "type": {
                "kind": "enum",
                "variants": parse_enum((SRC / "state" / file).read_text(), name),
            },
        }
        for name, file in ENUMS.items()
    ]


def build() -> dict[str, object]:
    """The IDL in Anchor ≥ 0.30's format (spec 0.1.0)."""
    instructions, structs, events = sources()
    types: list[dict[str, object]] = [
        {"name": name, "type": {"kind": "struct", "fields": structs[name]}} for name in ACCOUNTS
    ]
    types += enum_types()
    types += [
        {"name": name, "type": {"kind": "struct", "fields": structs[name]}} for name in events
    ]
    return {
        "address": PROGRAM_ID,
        "metadata": {
            "name": "fedstake",
            "version": VERSION,
            "spec": "0.1.0",
            "description": "Incentivized federated learning pools",
        },
        "instructions": [
            {
                "name": ix.name,
                "docs": ix.docs,
                "discriminator": tag("global", ix.name),
                "accounts": [render_account(a) for a in ix.accounts],
                "args": ix.args,
            }
            for ix in instructions
        ],
        "accounts": [{"name": name, "discriminator": tag("account", name)} for name in ACCOUNTS],
        "events": [{"name": name, "discriminator": tag("event", name)} for name in events],
        "errors": parse_errors((SRC / "errors.rs").read_text()),
        "types": types,
    }


# --- the legacy (anchor-syn 0.29) format, for anchorpy 0.21 -----------------


def mixed(snake: str) -> str:
    """`pool_id` → `poolId`: how the 0.29 IDL wrote instruction, account,
    argument and field names (clients snake_case them back)."""
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def legacy_type(idl_type: object) -> object:
    if idl_type == "pubkey":
        return "publicKey"
    if isinstance(idl_type, dict) and "array" in idl_type:
        inner, length = idl_type["array"]
        return {"array": [legacy_type(inner), length]}
    if isinstance(idl_type, dict) and "defined" in idl_type:
        return {"defined": idl_type["defined"]["name"]}
    return idl_type


def legacy_fields(fields: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{"name": mixed(str(f["name"])), "type": legacy_type(f["type"])} for f in fields]


def legacy_seed(seed: Seed) -> dict[str, object]:
    if seed.kind == "const" and seed.type == "bytes":
        return {"kind": "const", "type": "string", "value": seed.value.decode()}
    if seed.kind == "const":
        return {"kind": "const", "type": seed.type, "value": int.from_bytes(seed.value, "little")}
    out: dict[str, object] = {"kind": seed.kind, "type": legacy_type(seed.type)}
    if seed.account is not None:
        out["account"] = seed.account
    out["path"] = seed.path
    return out


def legacy_account(account: AccountDoc) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": mixed(account.name),
        "isMut": account.writable,
        "isSigner": account.signer,
    }
    if account.docs:
        entry["docs"] = [account.docs]
    if account.seeds is not None:
        entry["pda"] = {"seeds": [legacy_seed(s) for s in account.seeds]}
    if account.relations:
        entry["relations"] = [mixed(r) for r in account.relations]
    return entry


def build_legacy() -> dict[str, object]:
    """The same IDL in the pre-0.30 format anchorpy 0.21 reads (anchor-syn 0.29:
    no discriminators, `isMut`/`isSigner`, `publicKey`, `{"defined": Name}`,
    account structs under `accounts`, events with their fields)."""
    instructions, structs, events = sources()
    return {
        "version": VERSION,
        "name": "fedstake",
        "instructions": [
            {
                "name": mixed(ix.name),
                "docs": ix.docs,
                "accounts": [legacy_account(a) for a in ix.accounts],
                "args": legacy_fields(ix.args),
            }
            for ix in instructions
        ],
        "accounts": [
            {"name": name, "type": {"kind": "struct", "fields": legacy_fields(structs[name])}}
            for name in ACCOUNTS
        ],
        "types": enum_types(),
        "events": [
            {
                "name": name,
                "fields": [{**f, "index": False} for f in legacy_fields(structs[name])],
            }
            for name in events
        ],
        "errors": parse_errors((SRC / "errors.rs").read_text()),
        "metadata": {"address": PROGRAM_ID},
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


OUTPUTS = {"fedstake.json": build, "fedstake.legacy.json": build_legacy}


def render(idl: dict[str, object]) -> str:
    return json.dumps(idl, indent=2) + "\n"


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["--out"] and len(argv) == 2:
            out = Path(argv[1])
            out.mkdir(parents=True, exist_ok=True)
            texts = {name: render(make()) for name, make in OUTPUTS.items()}
            for name, text in texts.items():
                tmp = out / f"{name}.tmp"
                tmp.write_text(text)
                tmp.replace(out / name)
            return 0
        if argv in ([], ["--legacy"]):
            sys.stdout.write(render(build_legacy() if argv else build()))
            return 0
        print("usage: build_idl.py [--legacy | --out DIR]", file=sys.stderr)
        return 2
    except IdlError as exc:
        print(f"build_idl: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
