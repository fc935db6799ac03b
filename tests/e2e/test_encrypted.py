"""Encrypted updates (docs/PRIVACY.md) end to end on the embedded chain.

A pool whose task package sets `privacy.encrypt_updates` runs two rounds with
the operator service and participant agents: the stored bytes of every reveal
are sealed boxes (not tensors), the on-chain hash binds the plaintext, round
2's key comes from round 1's record, and `verify-round` reruns each round
given that round's secret key, and refuses by name without it or with
another. At the actions level: a ciphertext sealed to another key is slashed
`malformed`, and a peer's ciphertext revealed again under a colluder's
commitment of the same plaintext is slashed `duplicate` (reason 7), and an
operator that falsely claims a ciphertext does not open is caught by anyone
holding the round key."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from client_kit.actions.reads import find_round
from client_kit.canonical import MalformedUpdate, canonical_hash, decode_tensors
from client_kit.enums import Reason, RewardPolicy, Verdict
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.sealing import (
    ROUND_KEYS_FOLDER,
    SEAL_OVERHEAD,
    InvalidRoundKey,
    RoundKeypair,
    RoundKeyStore,
    SealedUpdateUnreadable,
    load_round_key,
    open_update,
    seal_update,
)
from client_kit.training.behaviours import Behaviour
from client_kit.training.task import InvalidTaskPackage, PrivacySpec, TaskPackage
from offchain.agent import AgentConfig, ParticipantAgent
from offchain.aggregator import fetch_record, judge_round
from offchain.service import OperatorService, ServiceSettings
from offchain.verify import RoundKeyRequired, WrongRoundKey, verify_round
from tests.agents import RecordingReporter, tiny_data_file, wait_for
from tests.offchain.test_verify_round import _cli
from tests.pools import SOL, PoolScenario, tiny_task

pytestmark = pytest.mark.timeout(300)


def _encrypted_task(keys: RoundKeyStore, **kw) -> TaskPackage:  # type: ignore[no-untyped-def]
    first = keys.generate()
    task = tiny_task("fedavg", hidden=(8,), **kw)
    return dataclasses.replace(task, privacy=PrivacySpec(True, first.public))


async def _started_pool(tmp_path: Path, trainers: int) -> tuple[RoundKeyStore, PoolScenario]:
    """An encrypted one-round pool (equal rewards) of `trainers` joined
    trainers, started: round 1 is open. The operator's keys are under `keys/`."""
    keys = RoundKeyStore(tmp_path / "keys")
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=_encrypted_task(keys))
    await world.setup()
    await world.create(max_participants=trainers, max_rounds=1, reward_policy=RewardPolicy.EQUAL)
    await world.fund(SOL)
    for _ in range(trainers):
        await world.join(await world.new_trainer())
    await world.start()
    return keys, world


async def _sealed_round(
    tmp_path: Path, trainers: int
) -> tuple[RoundKeyStore, PoolScenario, RoundKeypair]:
    """`_started_pool` whose trainers all committed and revealed their
    updates sealed to round 1's key (the third value): ready to judge."""
    keys, world = await _started_pool(tmp_path, trainers)
    key = await _round_key(world, keys, 1)
    for trainer in world.trainers:
        await world.submit(trainer)
    for trainer in world.trainers:
        await world.reveal(trainer, seal_to=key.public)
    return keys, world, key


async def _round_key(world: PoolScenario, keys: RoundKeyStore, number: int) -> RoundKeypair:
    from offchain.aggregator import round_public_key

    public = await round_public_key(world.chain, world.store, world.key, world.task, number)
    assert public is not None
    return keys.load(public)


async def test_an_encrypted_pool_runs_two_rounds_and_verifies_with_the_round_key(
    tmp_path: Path,
) -> None:
    # Given an encrypted pool whose round-1 key the operator holds in its data folder
    operator_dir = tmp_path / "operator"
    keys = RoundKeyStore(operator_dir / ROUND_KEYS_FOLDER)
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=_encrypted_task(keys))
    await world.setup()
    created = await world.create(
        max_rounds=2, max_participants=3, reward_per_round=SOL // 10,
        reward_policy=RewardPolicy.EQUAL,
    )  # fmt: skip
    await world.fund(SOL)
    service = OperatorService(
        world.chain,
        world.store,
        world.aggregator,
        ServiceSettings(data_dir=operator_dir, pools=[created.pool], poll=0.05),
    )
    agents = []
    for name, seed, behaviour in (
        ("ana", 1, Behaviour.HONEST),
        ("ben", 2, Behaviour.HONEST),
        ("mal", 4, Behaviour.TAMPERED),
    ):
        wallet = Keypair()
        await world.chain.airdrop(wallet.pubkey(), 2 * SOL)
        config = AgentConfig(
            pool=created.pool,
            data=tiny_data_file(tmp_path, seed),
            data_dir=tmp_path / name / "agent",
            secrets_dir=tmp_path / name / "secrets",
            stake=SOL // 2,
            payout_wallet=Keypair().pubkey(),
            behaviour=behaviour,
            claim=True,
            seed=seed,
            poll_interval=0.02,
        )
        agents.append(
            ParticipantAgent(world.chain, world.store, wallet, config, RecordingReporter(name))
        )
    # When the operator and the agents run until the pool ends
    operator = asyncio.create_task(service.run(), name="operator")
    runs = [asyncio.create_task(agent.run()) for agent in agents]
    try:

        async def everyone_joined() -> bool:
            return (await world.pool_state()).participant_count == 3

        await wait_for(everyone_joined, timeout=60)
        await world.start()
        await asyncio.wait_for(operator, 180)
        await asyncio.wait_for(asyncio.gather(*runs), 60)
    finally:
        for task in [operator, *runs]:
            task.cancel()
        await asyncio.gather(operator, *runs, return_exceptions=True)

    for number in (1, 2):
        state = await find_round(world.chain, world.key, number)
        assert state is not None and state.finalized
        record = await fetch_record(world.store, state)
        key = await _round_key(world, keys, number)
        # Then every revealed CID names a ciphertext, not tensors, whose
        # plaintext is what the on-chain hash binds
        verdicts: dict[Reason, int] = {}
        for entry in record.submissions:
            assert entry.cid is not None and entry.update_hash is not None
            stored = world.store.get(entry.cid)
            with pytest.raises(MalformedUpdate):
                decode_tensors(stored)
            plain = open_update(stored, key)
            assert len(stored) == len(plain) + SEAL_OVERHEAD
            verdicts[entry.reason] = verdicts.get(entry.reason, 0) + 1
            if entry.reason is Reason.OK:
                assert canonical_hash(plain) == entry.update_hash
        # the honest two are accepted; in round 1 the tampered one is slashed on
        # its plaintext's hash (and, slashed, takes no part in round 2)
        expected = {Reason.OK: 2, Reason.HASH_MISMATCH: 1} if number == 1 else {Reason.OK: 2}
        assert verdicts == expected
        # and round n's record publishes round n+1's key, a fresh one
        assert record.next_round_key is not None and record.next_round_key != key.public
        # and anyone given the round's key verifies it; without it, or with another, refused
        result = await verify_round(world.chain, world.store, world.key, number, round_key=key)
        assert result.ok, result.report()
        with pytest.raises(RoundKeyRequired):
            await verify_round(world.chain, world.store, world.key, number)
        with pytest.raises(WrongRoundKey):
            await verify_round(
                world.chain, world.store, world.key, number, round_key=RoundKeypair.generate()
            )
    # and the operator's keys are readable by it alone
    for path in keys.folder.iterdir():
        assert path.stat().st_mode & 0o077 == 0


async def test_a_wrong_key_ciphertext_and_a_copied_ciphertext_are_slashed(tmp_path: Path) -> None:
    # Given an encrypted pool of four trainers in round 1
    keys, world = await _started_pool(tmp_path, 4)
    ana, ben, eve, col = world.trainers
    public = (await _round_key(world, keys, 1)).public
    # ana and ben commit their own updates; col (a colluder) commits ana's
    # plaintext after her; eve commits her own
    await world.submit(ana)
    await world.submit(ben)
    await world.submit(eve)
    world.chain.advance(1)  # type: ignore[attr-defined]  # col commits a second later
    ana_update = ana.committed
    assert ana_update is not None
    await world.submit(col, ana_update)
    # When ana and ben reveal sealed to the round key, eve seals to another
    # key, and col reveals ana's ciphertext (its CID) under its own commitment
    revealed = await world.reveal(ana, seal_to=public)
    await world.reveal(ben, seal_to=public)
    await world.reveal(eve, seal_to=RoundKeypair.generate().public)
    state = await world.pool_state()
    ix = world.ix.reveal_update(
        col.wallet.pubkey(), world.key, state.round, ana_update.update_hash, revealed.update_cid
    )
    await world.chain.send([ix], [col.wallet])
    # and the operator judges the round
    outcome = await judge_round(world.chain, world.store, world.aggregator, world.key, keys=keys)
    got = {j.wallet: (j.verdict, j.reason) for j in outcome.judged}
    # Then eve's undecryptable ciphertext is slashed malformed, col's copy
    # duplicate (reason 7), and ana keeps her judgment
    assert got[eve.wallet.pubkey()] == (Verdict.SLASHED, Reason.MALFORMED)
    assert got[col.wallet.pubkey()] == (Verdict.SLASHED, Reason.DUPLICATE)
    assert int(Reason.DUPLICATE) == 7
    assert got[ana.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    assert got[ben.wallet.pubkey()] == (Verdict.ACCEPTED, Reason.OK)
    # and anyone with the round key reproduces it
    key = await _round_key(world, keys, 1)
    result = await verify_round(world.chain, world.store, world.key, 1, round_key=key)
    assert result.ok, result.report()
    # and so does `fedstake verify-round --round-key FILE`; without the key, or
    # with a file that is not a key, it stops with a named one-line error
    home = tmp_path / "home"
    world.chain.save_state(home / "embedded-state.json")  # type: ignore[attr-defined]
    key_file = keys.path(key.public)
    good = _cli(
        home, world.store_dir, "verify-round", str(world.key), "1", "--round-key", str(key_file)
    )
    assert good.returncode == 0, good.stderr
    assert "✓" in good.stdout
    without = _cli(home, world.store_dir, "verify-round", str(world.key), "1")
    assert without.returncode == 1 and "needs that round's secret key" in without.stderr
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    bad = _cli(
        home, world.store_dir, "verify-round", str(world.key), "1", "--round-key", str(garbage)
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: round key file")


def test_bad_round_key_files_and_privacy_headers_are_named_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    with pytest.raises(InvalidRoundKey):
        load_round_key(missing)
    for text in ("", "zz" * 32, "ab" * 31, "AB" * 32, "ab" * 33):
        bad = tmp_path / "bad.key"
        bad.write_text(text)
        with pytest.raises(InvalidRoundKey):
            load_round_key(bad)
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe" * 40)
    with pytest.raises(InvalidRoundKey):
        load_round_key(binary)
    # a key saved and loaded is the same pair, and the file is 0600
    pair = RoundKeyStore(tmp_path / "keys").generate()
    path = tmp_path / "keys" / f"{pair.public.hex()}.key"
    assert load_round_key(path) == pair and path.stat().st_mode & 0o777 == 0o600
    # privacy options: encrypt without a key, or a key without encryption, refused
    with pytest.raises(InvalidTaskPackage):
        PrivacySpec(True, None)
    with pytest.raises(InvalidTaskPackage):
        PrivacySpec(False, pair.public)
    with pytest.raises(InvalidTaskPackage):
        PrivacySpec(True, b"short")


def test_a_package_without_privacy_keeps_its_bytes_and_one_with_it_round_trips() -> None:
    plain = tiny_task()
    assert b"privacy" not in plain.to_bytes()
    assert TaskPackage.from_bytes(plain.to_bytes()) == plain
    encrypted = dataclasses.replace(plain, privacy=PrivacySpec(True, bytes(range(32))))
    again = TaskPackage.from_bytes(encrypted.to_bytes())
    assert again.privacy == PrivacySpec(True, bytes(range(32)))
    # a privacy header with encrypt_updates false is not canonical (written only when set)
    data = encrypted.to_bytes().replace(b'"encrypt_updates":true', b'"encrypt_updates":false')
    with pytest.raises(InvalidTaskPackage):
        TaskPackage.from_bytes(data)


def test_task_init_writes_the_option_and_saves_round_1s_key(tmp_path: Path) -> None:
    from tests.cli.runner import Cli

    cli = Cli(tmp_path / "home")
    out, operator_dir = tmp_path / "task.bin", tmp_path / "operator"
    model = ("--model", "mlp", "--input", "3", "--classes", "2")
    made = cli.ok(
        None, "task", "init", "--out", str(out), *model,
        "--encrypt-updates", "--operator-dir", str(operator_dir),
    )  # fmt: skip
    assert made["encrypt_updates"] is True
    task = TaskPackage.from_bytes(out.read_bytes())
    assert task.privacy.encrypt_updates and task.privacy.round_key is not None
    # the operator's key store holds round 1's secret key, readable by it alone
    pair = RoundKeyStore(operator_dir / ROUND_KEYS_FOLDER).load(task.privacy.round_key)
    path = operator_dir / ROUND_KEYS_FOLDER / f"{pair.public.hex()}.key"
    assert path.stat().st_mode & 0o777 == 0o600
    # one option without the other is refused by name, and nothing is written
    again = tmp_path / "again.bin"
    cli.fails(None, "task", "init", "--out", str(again), *model, "--encrypt-updates",
              match="go together")  # fmt: skip
    assert not again.exists()


_FUZZ_KEY = RoundKeypair.generate()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=256))
def test_bytes_that_are_not_a_sealed_box_are_unreadable_by_name(data: bytes) -> None:
    with pytest.raises(SealedUpdateUnreadable):
        open_update(data, _FUZZ_KEY)


def test_a_sealed_update_opens_only_with_its_key_and_not_after_tampering() -> None:
    sealed = seal_update(b"update", _FUZZ_KEY.public)
    assert open_update(sealed, _FUZZ_KEY) == b"update"
    assert seal_update(b"update", _FUZZ_KEY.public) != sealed  # a fresh ephemeral key each time
    with pytest.raises(SealedUpdateUnreadable):
        open_update(sealed, RoundKeypair.generate())
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealedUpdateUnreadable):
        open_update(flipped, _FUZZ_KEY)
    with pytest.raises(InvalidRoundKey):
        seal_update(b"update", b"short")


def test_a_record_keeps_its_next_round_key_and_refuses_a_bad_one() -> None:
    from offchain.record import InvalidRoundRecord, RoundRecord
    from tests.offchain.test_record import record as _record

    record = dataclasses.replace(_record(), next_round_key=bytes(range(32)))
    assert RoundRecord.from_bytes(record.to_bytes()) == record
    assert b"next_round_key" not in _record().to_bytes()  # written only when set
    for bad in (b'"zz"', b"null", b"7", b'"' + b"ab" * 31 + b'"'):
        data = record.to_bytes().replace(b'"' + bytes(range(32)).hex().encode() + b'"', bad)
        with pytest.raises(InvalidRoundRecord):
            RoundRecord.from_bytes(data)


async def test_an_operator_that_frames_an_honest_ciphertext_is_caught_with_the_round_key(
    tmp_path: Path,
) -> None:
    from client_kit.actions import operator
    from offchain.aggregator import gather_round
    from offchain.judging import JudgedSubmission, decide_round

    # Given an encrypted round where three trainers sealed their updates correctly
    keys, world, key = await _sealed_round(tmp_path, 3)
    # When the operator claims the first one's ciphertext does not open (slashes it
    # malformed), with the chain and the record telling the same story
    decision = decide_round(await gather_round(world.chain, world.store, world.key, keys=keys))
    victim = world.trainers[0].wallet.pubkey()
    framed = JudgedSubmission(victim, Verdict.SLASHED, Reason.MALFORMED, 0)
    judged = [framed if j.wallet == victim else j for j in decision.judged]
    entries = tuple(
        dataclasses.replace(e, verdict=Verdict.SLASHED, reason=Reason.MALFORMED, score=0)
        if e.wallet == victim
        else e
        for e in decision.record.submissions
    )
    record = dataclasses.replace(decision.record, submissions=entries)
    for j in judged:
        await operator.judge_submission(
            world.chain, world.aggregator, world.key, 1, j.wallet, j.verdict, j.score_bps, j.reason
        )
    await operator.finalize_round(
        world.chain, world.store, world.aggregator, world.key, 1,
        decision.global_model, record.to_bytes(),
    )  # fmt: skip
    # Then anyone given the round key finds the lie: the ciphertext opens, and it is honest
    result = await verify_round(world.chain, world.store, world.key, 1, round_key=key)
    assert [d.what for d in result.differences] == [f"verdict of {victim}"]


async def test_a_retried_gather_names_one_next_round_key_and_leaves_no_stray_keys(
    tmp_path: Path,
) -> None:
    from offchain.aggregator import gather_round

    # Given an encrypted round 1 whose reveals are in
    keys, world, key = await _sealed_round(tmp_path, 2)
    # When the operator gathers the round twice (a retry after a failure later on)
    first = await gather_round(world.chain, world.store, world.key, keys=keys)
    again = await gather_round(world.chain, world.store, world.key, keys=keys)
    # Then both name the same next-round key, whose secret the store holds,
    # and the store holds one key file per round key: round 1's and round 2's
    assert first.next_round_key is not None
    assert again.next_round_key == first.next_round_key
    assert keys.load(first.next_round_key).public == first.next_round_key
    key_files = sorted(p.name for p in keys.folder.glob("*.key"))
    assert key_files == sorted(f"{k.hex()}.key" for k in (key.public, first.next_round_key))
