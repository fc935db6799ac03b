"""Small, deliberate damage to a linked SBF program, for negative tests.

Reads with pyelftools; writes by patching the few ELF64 fields involved (the
layout is ELF's, so the offsets below are the spec's, not guesses). Used by the
post-link checker's tests and by the fuzzer's self-test.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

OP_LDDW = 0x18
OP_CALL_IMM = 0x85
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr


@dataclass(frozen=True)
class CallSite:
    """A pc-relative call (no relocation): file offset, slot, and target slot."""

    offset: int
    pc: int
    target: int


@dataclass(frozen=True)
class DynamicRelocation:
    """A `.rel.dyn` entry: where the entry itself sits in the file, and its fields."""

    entry_offset: int
    address: int
    kind: int
    symbol: int


def _elf(data: bytes) -> ELFFile:
    return ELFFile(io.BytesIO(data))


def text_offset(data: bytes) -> int:
    return _elf(data).get_section_by_name(".text")["sh_offset"]


def relative_calls(data: bytes) -> list[CallSite]:
    """Every call the loader resolves pc-relatively (no `.rel.dyn` entry, imm != -1)."""
    elf = _elf(data)
    text = elf.get_section_by_name(".text")
    relocated = {r.address for r in dynamic_relocations(data)}
    code = text.data()
    out = []
    offset = 0
    while offset < len(code):
        opcode = code[offset]
        if opcode == OP_CALL_IMM and text["sh_addr"] + offset not in relocated:
            (imm,) = struct.unpack_from("<i", code, offset + 4)
            if imm != -1:
                pc = offset // 8
                out.append(CallSite(text["sh_offset"] + offset, pc, pc + 1 + imm))
        offset += 16 if opcode == OP_LDDW else 8
    return out


def dynamic_relocations(data: bytes) -> list[DynamicRelocation]:
    elf = _elf(data)
    out = []
    for section in elf.iter_sections():
        if isinstance(section, RelocationSection):
            for index, rel in enumerate(section.iter_relocations()):
                out.append(
                    DynamicRelocation(
                        section["sh_offset"] + index * section["sh_entsize"],
                        rel["r_offset"],
                        rel["r_info_type"],
                        rel["r_info_sym"],
                    )
                )
    return out


def retarget(data: bytes, call: CallSite, target_pc: int | None) -> bytes:
    """`call` aimed at slot `target_pc`, or left unresolved (`call -1`) for None."""
    imm = -1 if target_pc is None else target_pc - call.pc - 1
    out = bytearray(data)
    struct.pack_into("<i", out, call.offset + 4, imm)
    return bytes(out)


def rewrite_relocation(data: bytes, rel: DynamicRelocation, *, kind: int, symbol: int) -> bytes:
    """`rel` with another type or symbol (Elf64_Rel.r_info = sym << 32 | type)."""
    out = bytearray(data)
    struct.pack_into("<Q", out, rel.entry_offset + 8, (symbol << 32) | kind)
    return bytes(out)


def append_section(data: bytes, name: str, payload: bytes = bytes(16)) -> tuple[bytes, int]:
    """`data` with one more PROGBITS section `name`; returns it and the section's offset.

    The section-name table is copied to the end with the new name added, and
    the section header table is moved after it (it must be the file's tail).
    """
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    entsize, count, names_index = struct.unpack_from("<HHH", data, 0x3A)
    assert shoff + entsize * count == len(data), "section headers are not the file's tail"
    headers = [bytearray(data[shoff + i * entsize :][:entsize]) for i in range(count)]
    names_header = _SECTION_HEADER.unpack(headers[names_index])
    names_offset, names_size = names_header[4], names_header[5]
    names = data[names_offset : names_offset + names_size] + name.encode() + b"\x00"

    out = bytearray(data[:shoff])
    payload_offset = len(out)
    out += payload
    new_names_offset = len(out)
    out += names
    out += bytes(-len(out) % 8)
    headers[names_index] = bytearray(
        _SECTION_HEADER.pack(*names_header[:4], new_names_offset, len(names), *names_header[6:])
    )
    progbits, write_alloc = 1, 3
    headers.append(
        bytearray(
            _SECTION_HEADER.pack(
                names_size, progbits, write_alloc, 0, payload_offset, len(payload), 0, 0, 8, 0
            )
        )
    )
    new_shoff = len(out)
    out += b"".join(headers)
    struct.pack_into("<Q", out, 0x28, new_shoff)
    struct.pack_into("<H", out, 0x3C, count + 1)
    return bytes(out), payload_offset
