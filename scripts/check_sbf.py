"""Post-link check of the SBF program: refuse binaries the runtime would run wrongly.

`scripts/build_program.sh` links with sbpf-linker 0.1.9, the registry-only linker.
It first links rustc's bitcode into one relocatable BPF object (the *pre-link
object*), then re-assembles that object into the SBPF v0 shared object. Two
faults of that second step give binaries that load fine and fail only when a
path is taken:

* **Calls into code outside `.text`.** LLVM moves cold functions (panic paths)
  to `.text.unlikely.`; a call into such a section carries a relocation against
  the *section* symbol, with the offset in the call's immediate. 0.1.9 looks
  that immediate up as a byte address, finds no label, and keeps the raw
  immediate: `call -1` stays unresolved (UnsupportedInstruction when reached),
  any other value becomes a pc-relative call to whatever lies that far away.
* **Pointers stored in data.** `.data.rel.ro` (static pointer tables, `dyn`
  vtables, panic `Location`s) is copied into `.rodata` byte for byte and its
  relocations are dropped, so the pointers stay at their addends.

How the runtime reads SBPF v0 (solana-sbpf `src/elf.rs`, `Executable::relocate`,
and `src/interpreter.rs`, `CALL_IMM`), which is what this module checks against:

* an instruction is 8 bytes, `lddw` (opcode 0x18) 16; `call imm` is opcode 0x85
  with the immediate at bytes 4..8 (v0 ignores the source register);
* a call with no `.rel.dyn` entry and imm != -1 is pc-relative: the loader takes
  slot `pc + 1 + imm`, fails the load with RelativeJumpOutOfBounds outside
  `.text`, and otherwise registers *whatever is there* as a function;
* a call with imm == -1 is left for a relocation; without one, the interpreter
  looks up key 0xffffffff, finds nothing, and raises UnsupportedInstruction;
* an R_BPF_64_32 `.rel.dyn` entry on a call names a dynamic symbol: a defined
  function (bpf-to-bpf call) or else a syscall, keyed by murmur3 of its name;
* R_BPF_64_RELATIVE and R_BPF_64_64 rebase the address in an `lddw`;
  R_BPF_64_RELATIVE outside `.text` rewrites a 64-bit word of data (from the
  address in its upper half, an old toolchain's encoding); any other type
  fails the load (UnknownRelocation).

Rules (each finding names the file offset of the offending bytes in the `.so`):

* `unexpected-section` — a section outside `EXPECTED_SECTIONS`;
* `unresolved-call` — `call -1` with no relocation;
* `call-outside-text` — a pc-relative call whose target is not in `.text`;
* `call-not-function-entry` — a call whose target is not the first instruction
  of a function the pre-link object defines;
* `call-misresolved` — a call that reaches a different function (or syscall)
  than the pre-link object's call at the same place;
* `unsupported-relocation` — a `.rel.dyn` entry the loader rejects or applies to
  the wrong kind of instruction;
* `code-outside-text` — code in the pre-link object outside its `.text`
  (the cause of the call faults above);
* `unapplied-data-relocation` — a relocation of data in the pre-link object with
  no `.rel.dyn` entry at the place its bytes landed in the `.so`;
* `layout-mismatch` — the `.so`'s `.text` is not the pre-link object's code laid
  end to end (then the rules above that need the object cannot be trusted).

`call-not-function-entry`, `call-misresolved` and the last three need the
pre-link object (`--object`); the build script keeps it.

pyelftools reads the ELF structures; the instructions themselves are decoded
here (8 bytes with `struct`), since no registry package knows SBPF v0's call
and relocation rules (capstone's BPF mode decodes eBPF, not these).

Usage: `python scripts/check_sbf.py target/deploy/fedstake.so --object PRELINK.o`;
exit status 0 when clean, 1 with one line per finding otherwise.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mmh3
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import Relocation, RelocationSection
from elftools.elf.sections import SymbolTableSection

# Sections sbpf-linker 0.1.9 writes (`.s` is its section-name string table).
EXPECTED_SECTIONS = frozenset(
    {"", ".text", ".rodata", ".dynamic", ".dynsym", ".dynstr", ".rel.dyn", ".s", ".shstrtab"}
)

INSN_SIZE = 8
OP_LDDW = 0x18
OP_CALL_IMM = 0x85

R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_RELATIVE = 8
R_BPF_64_32 = 10


@dataclass(frozen=True)
class Finding:
    """One reason to refuse the binary.

    `offset` is a file offset in the `.so` (for the program's PT_LOAD segment
    it equals the virtual address the runtime reports).
    """

    rule: str
    offset: int
    message: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.offset:#x}: {self.message}"


@dataclass
class Report:
    """What `check` found: the findings and a census of the call sites.

    `internal_calls` counts bpf-to-bpf call sites (resolved or not),
    `syscalls` the call sites bound to a syscall by name, `unresolved` the
    `call -1` sites with no relocation; `functions` is the number of function
    entries known from the pre-link object (0 without it).
    """

    findings: list[Finding] = field(default_factory=list)
    internal_calls: int = 0
    syscalls: int = 0
    unresolved: int = 0
    functions: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        return (
            f"{self.internal_calls} internal call sites ({self.unresolved} unresolved), "
            f"{self.syscalls} syscall sites, {self.functions} functions, "
            f"{len(self.findings)} findings"
        )


@dataclass(frozen=True)
class _Call:
    """Where a call goes: a code slot (`pc`, in `.so` slots) or a syscall name."""

    pc: int | None = None
    syscall: str | None = None
    unresolved: bool = False

    def describe(self, names: dict[int, str]) -> str:
        if self.syscall is not None:
            return f"syscall {self.syscall}"
        if self.unresolved or self.pc is None:
            return "nothing (unresolved)"
        return f"pc {self.pc} ({names.get(self.pc, 'not a function entry')})"


def _insns(code: bytes) -> Iterator[tuple[int, int, int]]:
    """(byte offset, opcode, imm) of each instruction; `lddw` spans 16 bytes."""
    offset = 0
    while offset + INSN_SIZE <= len(code):
        opcode, _regs, _off, imm = struct.unpack_from("<BBhi", code, offset)
        yield offset, opcode, imm
        offset += 2 * INSN_SIZE if opcode == OP_LDDW else INSN_SIZE


def _relocations(elf: ELFFile, section_index: int) -> dict[int, Relocation]:
    """Relocations that apply to section `section_index`, by offset in it."""
    out: dict[int, Relocation] = {}
    for section in elf.iter_sections():
        if isinstance(section, RelocationSection) and section["sh_info"] == section_index:
            for rel in section.iter_relocations():
                out[rel["r_offset"]] = rel
    return out


class _SharedObject:
    """The linked `.so` as the SBPF v0 loader sees it."""

    def __init__(self, data: bytes) -> None:
        self.elf = ELFFile(io.BytesIO(data))
        self.text = self.elf.get_section_by_name(".text")
        if self.text is None:
            raise ValueError("no .text section: not an SBF program")
        self.code = self.text.data()
        self.text_offset = self.text["sh_offset"]
        self.text_addr = self.text["sh_addr"]
        self.slots = len(self.code) // INSN_SIZE
        self.dynsym = self.elf.get_section_by_name(".dynsym")
        self.symbols = list(self.dynsym.iter_symbols()) if self.dynsym else []
        self.rel_dyn: dict[int, Relocation] = {}
        for section in self.elf.iter_sections():
            if isinstance(section, RelocationSection):
                for rel in section.iter_relocations():
                    self.rel_dyn[rel["r_offset"]] = rel

    def file_offset(self, pc: int) -> int:
        return self.text_offset + pc * INSN_SIZE

    def call_at(self, offset: int, imm: int) -> _Call:
        """Where the call at `.text` byte `offset` goes once the loader is done."""
        rel = self.rel_dyn.get(self.text_addr + offset)
        if rel is not None and rel["r_info_type"] == R_BPF_64_32:
            symbol = self.symbols[rel["r_info_sym"]]
            if symbol["st_shndx"] != "SHN_UNDEF" and symbol["st_value"] != 0:
                return _Call(pc=(symbol["st_value"] - self.text_addr) // INSN_SIZE)
            return _Call(syscall=symbol.name)
        if imm == -1:
            return _Call(unresolved=True)
        return _Call(pc=offset // INSN_SIZE + 1 + imm)


class _PrelinkObject:
    """The relocatable object sbpf-linker assembled the `.so` from."""

    def __init__(self, data: bytes) -> None:
        self.elf = ELFFile(io.BytesIO(data))
        self.sections = list(self.elf.iter_sections())
        # 0.1.9 lays the code sections end to end in section order (byteparser.rs).
        self.code_bases: dict[int, int] = {}
        size = 0
        for index, section in enumerate(self.sections):
            if section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
                self.code_bases[index] = size
                size += section["sh_size"]
        self.code_size = size
        symtab = self.elf.get_section_by_name(".symtab")
        self.symbols = list(symtab.iter_symbols()) if isinstance(symtab, SymbolTableSection) else []

    def pc(self, section_index: int, offset: int) -> int:
        return (self.code_bases[section_index] + offset) // INSN_SIZE

    def functions(self) -> dict[int, str]:
        """Function entries in `.so` slots → symbol name."""
        out: dict[int, str] = {}
        for symbol in self.symbols:
            index = symbol["st_shndx"]
            if symbol["st_info"]["type"] == "STT_FUNC" and index in self.code_bases:
                out.setdefault(self.pc(index, symbol["st_value"]), symbol.name)
        return out

    def calls(self, syscall_names: set[str]) -> dict[int, _Call]:
        """What each call in the object means, by `.so` slot of the call."""
        by_hash = {mmh3.hash(n.encode(), 0, signed=True): n for n in syscall_names}
        out: dict[int, _Call] = {}
        for index, base in self.code_bases.items():
            code = self.sections[index].data()
            rels = _relocations(self.elf, index)
            for offset, opcode, imm in _insns(code):
                if opcode != OP_CALL_IMM:
                    continue
                site = (base + offset) // INSN_SIZE
                rel = rels.get(offset)
                if rel is not None:
                    symbol = self.symbols[rel["r_info_sym"]]
                    target = symbol["st_shndx"]
                    if target in self.code_bases:
                        # implicit addend: imm = slots past the symbol - 1
                        out[site] = _Call(
                            pc=self.pc(target, symbol["st_value"] + (imm + 1) * INSN_SIZE)
                        )
                    else:
                        out[site] = _Call(syscall=symbol.name)
                elif imm in by_hash:  # static syscall: imm = murmur3(name)
                    out[site] = _Call(syscall=by_hash[imm])
                else:
                    out[site] = _Call(pc=(base + offset) // INSN_SIZE + 1 + imm)
        return out


def _check_sections(so: _SharedObject, report: Report) -> None:
    for section in so.elf.iter_sections():
        if section.name not in EXPECTED_SECTIONS:
            report.findings.append(
                Finding(
                    "unexpected-section",
                    section["sh_offset"],
                    f"section {section.name!r} ({section['sh_size']} bytes) is not one of "
                    f"{', '.join(sorted(n for n in EXPECTED_SECTIONS if n))}",
                )
            )


def _check_relocations(so: _SharedObject, report: Report) -> None:
    end = so.text_addr + len(so.code)
    insn_at = {so.text_addr + off: op for off, op, _imm in _insns(so.code)}
    for address, rel in sorted(so.rel_dyn.items()):
        kind = rel["r_info_type"]
        in_text = so.text_addr <= address < end
        opcode = insn_at.get(address)
        if in_text and kind == R_BPF_64_32 and opcode == OP_CALL_IMM:
            continue
        if in_text and kind in (R_BPF_64_64, R_BPF_64_RELATIVE) and opcode == OP_LDDW:
            continue
        if not in_text and kind == R_BPF_64_RELATIVE:
            continue
        where = "in .text" if in_text else "outside .text"
        what = f"opcode {opcode:#04x}" if opcode is not None else "data"
        report.findings.append(
            Finding(
                "unsupported-relocation",
                address,
                f"relocation type {kind} {where} on {what}: the SBPF v0 loader rejects it "
                "or patches the wrong bytes",
            )
        )


def _check_layout(so: _SharedObject, obj: _PrelinkObject, report: Report) -> bool:
    """True when the `.so`'s code is the object's code laid end to end."""
    if obj.code_size != len(so.code):
        report.findings.append(
            Finding(
                "layout-mismatch",
                so.text_offset,
                f".text is {len(so.code)} bytes, the pre-link object's code {obj.code_size}: "
                "the object is not the one this .so was linked from",
            )
        )
        return False
    for index, base in obj.code_bases.items():
        code = obj.sections[index].data()
        relocated = set(_relocations(obj.elf, index))
        for offset, opcode, _imm in _insns(code):
            width = 2 * INSN_SIZE if opcode == OP_LDDW else INSN_SIZE
            linked = so.code[base + offset : base + offset + width]
            if opcode == OP_CALL_IMM:
                compared = 1  # the opcode; where the call goes is the call rules' job
            elif opcode == OP_LDDW and offset in relocated:
                compared = 4  # opcode, registers, offset; the address is relocated
            else:
                compared = width
            if linked[:compared] != code[offset : offset + compared]:
                report.findings.append(
                    Finding(
                        "layout-mismatch",
                        so.text_offset + base + offset,
                        f"instruction differs from {obj.sections[index].name}+{offset:#x} "
                        "of the pre-link object",
                    )
                )
                return False
    return True


def _check_calls(so: _SharedObject, obj: _PrelinkObject | None, report: Report) -> None:
    syscall_names = {s.name for s in so.symbols if s.name and s["st_shndx"] == "SHN_UNDEF"}
    functions = obj.functions() if obj is not None else {}
    for symbol in so.symbols:  # the .so's own exports (`entrypoint`) are entries too
        if functions and symbol.name and symbol["st_shndx"] != "SHN_UNDEF":
            functions.setdefault((symbol["st_value"] - so.text_addr) // INSN_SIZE, symbol.name)
    intended = obj.calls(syscall_names) if obj is not None else {}
    report.functions = len(functions)

    for offset, opcode, imm in _insns(so.code):
        if opcode != OP_CALL_IMM:
            continue
        site = offset // INSN_SIZE
        where = so.file_offset(site)
        actual = so.call_at(offset, imm)
        meant = intended.get(site)
        meant_text = f"; the object calls {meant.describe(functions)}" if meant else ""
        label = f"call at pc {site}"
        if actual.syscall is not None:
            report.syscalls += 1
        else:
            report.internal_calls += 1
        if actual.unresolved:
            report.unresolved += 1
            report.findings.append(
                Finding(
                    "unresolved-call",
                    where,
                    f"{label} has imm -1 and no .rel.dyn entry "
                    f"(UnsupportedInstruction when reached){meant_text}",
                )
            )
        elif actual.pc is not None and not 0 <= actual.pc < so.slots:
            report.findings.append(
                Finding(
                    "call-outside-text",
                    where,
                    f"{label} targets pc {actual.pc}, outside .text (0..{so.slots}){meant_text}",
                )
            )
        elif actual.pc is not None and functions and actual.pc not in functions:
            report.findings.append(
                Finding(
                    "call-not-function-entry",
                    where,
                    f"{label} lands at pc {actual.pc}, {_inside(actual.pc, functions)}"
                    f"{meant_text}",
                )
            )
        elif meant is not None and meant != actual:
            report.findings.append(
                Finding(
                    "call-misresolved",
                    where,
                    f"{label} reaches {actual.describe(functions)}{meant_text}",
                )
            )


def _inside(pc: int, functions: dict[int, str]) -> str:
    before = [entry for entry in functions if entry < pc]
    if not before:
        return "before the first function"
    start = max(before)
    return f"{(pc - start) * INSN_SIZE} bytes into {functions[start]}"


def _check_object(so: _SharedObject, obj: _PrelinkObject, report: Report) -> None:
    for index, base in obj.code_bases.items():
        section = obj.sections[index]
        if section.name != ".text":
            names = sorted(
                s.name
                for s in obj.symbols
                if s["st_shndx"] == index and s["st_info"]["type"] == "STT_FUNC"
            )
            report.findings.append(
                Finding(
                    "code-outside-text",
                    so.text_offset + base,
                    f"pre-link section {section.name!r} ({section['sh_size']} bytes: "
                    f"{', '.join(names) or 'no named function'}); sbpf-linker 0.1.9 "
                    "mis-resolves calls into it",
                )
            )
    _check_data_relocations(so, obj, report)


def _check_data_relocations(so: _SharedObject, obj: _PrelinkObject, report: Report) -> None:
    # 0.1.9 copies `.rodata*` and `.data.rel.ro*` into `.rodata` in section order.
    rodata = so.elf.get_section_by_name(".rodata")
    rodata_base = rodata["sh_addr"] if rodata is not None else None
    bases: dict[int, int] = {}
    size = 0
    for index, section in enumerate(obj.sections):
        if section.name.startswith((".rodata", ".data.rel.ro")):
            bases[index] = size
            size += section["sh_size"]
    for section in obj.sections:
        if not isinstance(section, RelocationSection):
            continue
        target_index = section["sh_info"]
        if target_index in obj.code_bases:
            continue
        target = obj.sections[target_index]
        for rel in section.iter_relocations():
            points_to = _pointee(obj, rel, target.data())
            if rodata_base is not None and target_index in bases:
                address = rodata_base + bases[target_index] + rel["r_offset"]
                if address in so.rel_dyn:
                    continue
                where = f"lands at .so {address:#x}"
            else:
                address = so.text_offset
                where = "has no place in the .so"
            report.findings.append(
                Finding(
                    "unapplied-data-relocation",
                    address,
                    f"{target.name}+{rel['r_offset']:#x} (relocation type "
                    f"{rel['r_info_type']} to {points_to}) {where} with no .rel.dyn entry: "
                    "the pointer keeps its unrelocated value",
                )
            )


def _pointee(obj: _PrelinkObject, rel: Relocation, data: bytes) -> str:
    """What a data relocation points to: a symbol, or section+addend, and the
    string there if it is a string section (a panic `Location`'s file name says
    which code the pointer belongs to)."""
    symbol = obj.symbols[rel["r_info_sym"]]
    if symbol.name:
        return symbol.name
    section = obj.sections[symbol["st_shndx"]]
    offset = rel["r_offset"]
    (addend,) = struct.unpack_from("<q", data, offset) if offset + 8 <= len(data) else (0,)
    text = f"{section.name}+{addend:#x}"
    if section["sh_flags"] & SH_FLAGS.SHF_STRINGS:
        raw = section.data()[addend:].split(b"\x00", 1)[0]
        text += f" {raw.decode('utf-8', 'replace')!r}"
    return text


def check(so_path: Path, object_path: Path | None = None) -> Report:
    """Checks the linked program at `so_path` against the SBPF v0 loader's rules.

    `object_path` is the pre-link relocatable object sbpf-linker assembled the
    `.so` from; without it the rules that need function boundaries or the
    object's relocations are skipped. Raises `ValueError` for a file without
    `.text`, `elftools.common.exceptions.ELFError` for one that is not ELF.
    """
    so = _SharedObject(Path(so_path).read_bytes())
    obj = _PrelinkObject(Path(object_path).read_bytes()) if object_path else None
    report = Report()
    _check_sections(so, report)
    _check_relocations(so, report)
    if obj is not None and not _check_layout(so, obj, report):
        obj = None
    _check_calls(so, obj, report)
    if obj is not None:
        _check_object(so, obj, report)
    report.findings.sort(key=lambda f: (f.offset, f.rule))
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI: prints one line per finding and a census; exit 1 if any finding."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("so", type=Path, help="the linked program (.so)")
    parser.add_argument("--object", type=Path, help="sbpf-linker's pre-link object (.o)")
    args = parser.parse_args(argv)
    report = check(args.so, args.object)
    for finding in report.findings:
        print(f"check_sbf: {args.so}: {finding}", file=sys.stderr)
    status = "ok" if report.ok else "REFUSED"
    print(f"check_sbf: {args.so}: {status}: {report.summary()}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
