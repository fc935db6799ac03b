"""The post-link check (scripts/check_sbf.py): accepts the built program, refuses
the linker faults it guards against, and names where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_kit.idl import REPO_ROOT
from scripts import check_sbf
from tests.program import sbf_edit

BUILT_SO = REPO_ROOT / "target" / "deploy" / "fedstake.so"
# the pre-link object scripts/sbpf_link.sh keeps next to the linked program
BUILT_OBJECT = REPO_ROOT / "target/sbpf/bpfel-unknown-none/release/deps/libfedstake.o"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sbf"
COLD_SO = FIXTURES / "fedstake-cold-sections.so"
COLD_OBJECT = FIXTURES / "fedstake-cold-sections.o"
# Where the build without the section-prefix flag left `call -1` (issue 7).
COLD_UNRESOLVED = [0x3B08, 0x8560, 0xC308, 0xDBB0, 0x15190, 0x183F8]


def _check(tmp_path: Path, data: bytes, with_object: bool = True) -> check_sbf.Report:
    damaged = tmp_path / "damaged.so"
    damaged.write_bytes(data)
    return check_sbf.check(damaged, BUILT_OBJECT if with_object else None)


def _findings(report: check_sbf.Report) -> list[tuple[str, int]]:
    return [(f.rule, f.offset) for f in report.findings]


@pytest.fixture
def good() -> bytes:
    return BUILT_SO.read_bytes()


def test_the_built_program_passes() -> None:
    report = check_sbf.check(BUILT_SO, BUILT_OBJECT)
    assert report.ok, "\n".join(map(str, report.findings))
    assert report.unresolved == 0
    assert report.internal_calls > 0 and report.syscalls > 0 and report.functions > 0


def test_a_build_without_the_section_prefix_flag_is_refused() -> None:
    report = check_sbf.check(COLD_SO, COLD_OBJECT)
    assert report.unresolved == 6
    assert sorted(_findings(report)) == sorted(
        [("unresolved-call", offset) for offset in COLD_UNRESOLVED]
        + [("code-outside-text", 0x183F8), ("unapplied-data-relocation", 0x18460)]
    )
    messages = "\n".join(map(str, report.findings))
    assert ".text.unlikely." in messages and "panic_fmt" in messages


def test_the_so_alone_still_shows_the_unresolved_calls() -> None:
    report = check_sbf.check(COLD_SO)
    assert _findings(report) == [("unresolved-call", offset) for offset in COLD_UNRESOLVED]


def test_an_unresolved_call_is_named(tmp_path: Path, good: bytes) -> None:
    call = sbf_edit.relative_calls(good)[0]
    report = _check(tmp_path, sbf_edit.retarget(good, call, None))
    assert _findings(report) == [("unresolved-call", call.offset)]


def test_a_call_outside_text_is_named(tmp_path: Path, good: bytes) -> None:
    call = sbf_edit.relative_calls(good)[0]
    report = _check(tmp_path, sbf_edit.retarget(good, call, 10**6))
    assert _findings(report) == [("call-outside-text", call.offset)]


def test_a_call_into_the_middle_of_a_function_is_named(tmp_path: Path, good: bytes) -> None:
    call = sbf_edit.relative_calls(good)[0]
    report = _check(tmp_path, sbf_edit.retarget(good, call, call.target + 1))
    assert _findings(report) == [("call-not-function-entry", call.offset)]
    assert "8 bytes into" in str(report.findings[0])


def test_a_call_to_the_wrong_function_is_named(tmp_path: Path, good: bytes) -> None:
    calls = sbf_edit.relative_calls(good)
    other = next(c.target for c in calls if c.target != calls[0].target)
    report = _check(tmp_path, sbf_edit.retarget(good, calls[0], other))
    assert _findings(report) == [("call-misresolved", calls[0].offset)]


def test_a_syscall_bound_to_the_wrong_name_is_named(tmp_path: Path, good: bytes) -> None:
    syscalls = [r for r in sbf_edit.dynamic_relocations(good) if r.kind == check_sbf.R_BPF_64_32]
    first = syscalls[0]
    other = next(r.symbol for r in syscalls if r.symbol != first.symbol)
    damaged = sbf_edit.rewrite_relocation(good, first, kind=first.kind, symbol=other)
    report = _check(tmp_path, damaged)
    assert _findings(report) == [("call-misresolved", first.address)]
    # without the object the name cannot be checked, and nothing else is wrong
    assert _check(tmp_path, damaged, with_object=False).ok


def test_an_unsupported_relocation_is_named(tmp_path: Path, good: bytes) -> None:
    lddw = next(
        r for r in sbf_edit.dynamic_relocations(good) if r.kind == check_sbf.R_BPF_64_RELATIVE
    )
    damaged = sbf_edit.rewrite_relocation(
        good, lddw, kind=check_sbf.R_BPF_64_ABS64, symbol=lddw.symbol
    )
    report = _check(tmp_path, damaged)
    assert _findings(report) == [("unsupported-relocation", lddw.address)]


def test_an_unexpected_section_is_named(tmp_path: Path, good: bytes) -> None:
    damaged, offset = sbf_edit.append_section(good, ".data")
    report = _check(tmp_path, damaged)
    assert _findings(report) == [("unexpected-section", offset)]
    assert "'.data'" in str(report.findings[0])


def test_an_object_the_so_was_not_linked_from_is_refused() -> None:
    report = check_sbf.check(BUILT_SO, COLD_OBJECT)
    assert "layout-mismatch" in {f.rule for f in report.findings}


def test_the_command_line_names_the_offsets(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_sbf.main([str(COLD_SO), "--object", str(COLD_OBJECT)]) == 1
    err = capsys.readouterr().err
    assert all(f"{offset:#x}" in err for offset in COLD_UNRESOLVED)
    assert check_sbf.main([str(BUILT_SO), "--object", str(BUILT_OBJECT)]) == 0
    assert "REFUSED" not in capsys.readouterr().out
