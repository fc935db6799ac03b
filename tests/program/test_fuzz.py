"""Crash-class fuzzing of every IDL instruction against the compiled program.

The harness is tests/program/fuzzing.py. The outcome histogram is printed (see
it with `pytest -s`) and written to `$FEDSTAKE_FUZZ_REPORT`, by default
target/fuzz/program_fuzz.md.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from solders.keypair import Keypair

from client_kit.errors import TransactionFailed
from client_kit.idl import REPO_ROOT, load_idl
from client_kit.program import program_bytes
from tests.program import fuzzing, sbf_edit

REPORT = Path(os.environ.get("FEDSTAKE_FUZZ_REPORT", REPO_ROOT / "target/fuzz/program_fuzz.md"))


def test_every_failure_is_a_named_error_or_a_runtime_refusal() -> None:
    outcomes = fuzzing.run()
    report = fuzzing.histogram(outcomes)
    print("\n" + report)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)

    names = [ix["name"] for ix in load_idl().raw["instructions"]]
    assert sorted({o.instruction for o in outcomes}) == sorted(names)
    assert len(outcomes) == len(names) * fuzzing.CASES_PER_INSTRUCTION
    stale = {o.instruction: o.kind for o in outcomes if o.recipe == "valid" and o.kind != "ok"}
    assert not stale, f"valid calls that no longer succeed (fix fuzzing.valid_calls): {stale}"
    crashes = [o for o in outcomes if not o.allowed]
    assert not crashes, "\n".join(
        f"{o.instruction} [{o.recipe}] -> {o.kind}\n    " + "\n    ".join(o.logs[-4:])
        for o in crashes[:10]
    )


def test_the_fuzzer_notices_a_crash() -> None:
    # Given the program with every pc-relative call left unresolved (`call -1`)
    zoo = fuzzing.build_zoo(random.Random(fuzzing.SEED))
    program = program_bytes()
    for call in sbf_edit.relative_calls(program):
        program = sbf_edit.retarget(program, call, None)
    zoo.chain.svm.add_program(zoo.ix.program_id, program)
    # When a valid call runs into one
    valid = fuzzing.valid_calls(zoo)["fund_pool"]()
    kind, _logs = fuzzing.send(zoo, fuzzing.Call(bytes(valid.data), list(valid.accounts)))
    # Then the outcome is a crash, which the property refuses
    outcome = fuzzing.Outcome("fund_pool", "valid", kind)
    assert kind == "crash: unsupported BPF instruction"
    assert not outcome.allowed


def test_instructions_without_a_valid_call_are_still_fuzzed() -> None:
    # Given the IDL-driven builder that covers instructions `valid_calls` lacks
    rng = random.Random(fuzzing.SEED)
    zoo = fuzzing.build_zoo(rng)
    for spec in load_idl().raw["instructions"]:
        for _ in range(10):
            # When it builds and sends a call of every instruction
            call = fuzzing.generic_call(zoo, spec["name"], rng)
            assert bytes(call.data[:8]) == bytes(spec["discriminator"])
            assert len(call.accounts) == len(spec["accounts"])
            kind, logs = fuzzing.send(zoo, fuzzing.Call(bytes(call.data), list(call.accounts)))
            # Then the outcome is judged like any other
            assert fuzzing.Outcome(spec["name"], "generic", kind).allowed, (kind, logs[-4:])


def test_a_runtime_refusal_is_classified_and_allowed() -> None:
    # Given a valid call paid by a fee payer that does not exist
    zoo = fuzzing.build_zoo(random.Random(fuzzing.SEED))
    valid = fuzzing.valid_calls(zoo)["fund_pool"]()
    organization = zoo.worlds["open"].organization
    # When it is sent
    with pytest.raises(TransactionFailed) as failure:
        zoo.chain.send_sync([valid], [Keypair(), organization])
    kind = fuzzing.classify(failure.value)
    # Then the runtime's refusal is named and counted as allowed
    assert kind == "AccountNotFound"
    assert fuzzing.Outcome("fund_pool", "valid", kind).allowed
