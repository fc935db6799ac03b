"""Gathers one round's inputs from the chain and storage, and judges the round.

`gather_round` reads everything `offchain.judging.decide_round` needs once a
round's reveal phase is over: the pool and its task package, the round's base
model (the pool's global model, checked against its on-chain hash), the
previous round's record (through `Round.record_cid`: the previous base, for
the previous global delta, and the previous round's accepted revealed
updates, the `replay` test's sources), the operator's reference update
(stored, so the record can name it), and every submission with the bytes
received for its revealed CID.

Operator-side failures never become verdicts: a store that cannot deliver a
revealed update raises `UpdateUnavailable`, any other input the operator
cannot get or that does not match what the chain records raises
`RoundInputUnavailable`, both before anything is sent. The round is retried
or, if nobody judges in time, expires (docs/PROTOCOL.md).

`judge_round` is the whole round in one call (gather, decide, send each
verdict, store the global model and the round record, finalize), for the
demo and tests; the operator service (`offchain.coordinator`) runs the same
steps with a journal in between. Every chain and store exchange goes through
`client_kit.actions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, Round
from client_kit.actions import operator
from client_kit.actions.reads import find_round, load_pool
from client_kit.canonical import (
    MalformedUpdate,
    Tensors,
    canonical_hash,
    decode_tensors,
    encode_tensors,
    tensors_hash,
)
from client_kit.errors import FedstakeError
from client_kit.gateway.base import ChainGateway
from client_kit.sealing import (
    InvalidRoundKey,
    RoundKeyMissing,
    RoundKeypair,
    RoundKeyStore,
    SealedUpdateUnreadable,
    open_update,
    seal_update,
)
from client_kit.storage.base import ContentStore
from client_kit.storage.cid import is_cid
from client_kit.storage.errors import StorageError
from client_kit.training.task import InvalidTaskPackage, TaskPackage
from offchain.errors import RoundMismatch, RoundNotReady
from offchain.judging import (
    JudgedSubmission,
    RoundDecision,
    RoundInputs,
    SubmissionInput,
    decide_round,
    declared_norm_bound,
    needs_reference,
)
from offchain.record import Content, InvalidRoundRecord, JudgedEntry, RoundRecord, Source

ReferenceFn = Callable[[TaskPackage, Tensors, int], Tensors | None]
"""`reference(task, base, round_number)`: the operator's reference update, or None."""


class RoundInputUnavailable(FedstakeError):
    """An input of the round the operator cannot get, or that does not match
    what the chain records (task package, base model, previous round record,
    a source, the reference update): the operator's problem, never a verdict."""


class ReferenceMissing(RoundInputUnavailable):
    """The pool's rule or reward policy needs the operator's reference update
    and the operator has no reference data."""


@dataclass(frozen=True, eq=False)
class RoundOutcome:
    """A judged and finalized round (what `judge_round` returns)."""

    round: int
    judged: list[JudgedSubmission]
    global_model: Tensors
    global_hash: bytes
    global_cid: str
    record_cid: str


async def fetch_checked(
    store: ContentStore,
    cid: str,
    expected_hash: bytes,
    what: str,
    key: RoundKeypair | None = None,
) -> bytes:
    """The bytes stored under `cid`, which must hash to `expected_hash`;
    with `key`, the stored bytes are sealed to it and the plaintext is
    returned and hashed. `RoundInputUnavailable` otherwise (unreachable,
    missing, does not open, mismatching): an input, not a verdict."""
    try:
        data = await asyncio.to_thread(store.get, cid)
    except StorageError as exc:
        raise RoundInputUnavailable(f"{what} ({cid}): {exc}") from exc
    if key is not None:
        try:
            data = open_update(data, key)
        except SealedUpdateUnreadable as exc:
            raise RoundInputUnavailable(f"{what} ({cid}): {exc}") from exc
    if canonical_hash(data) != bytes(expected_hash):
        raise RoundInputUnavailable(f"{what} ({cid}) does not hash to {expected_hash.hex()}")
    return data


async def fetch_tensors(
    store: ContentStore, content: Content, what: str, key: RoundKeypair | None = None
) -> Tensors:
    """Canonical tensors named by `content` (hash checked; with `key`, sealed
    to it: see `fetch_checked`); `RoundInputUnavailable`."""
    data = await fetch_checked(store, content.cid, content.hash, what, key)
    try:
        return decode_tensors(data)
    except MalformedUpdate as exc:
        raise RoundInputUnavailable(f"{what} ({content.cid}): {exc}") from exc


async def fetch_task(store: ContentStore, pool: Pool) -> TaskPackage:
    """The pool's task package; `RoundInputUnavailable` when it cannot be read."""
    try:
        data = await asyncio.to_thread(store.get, pool.task_cid_str)
        return TaskPackage.from_bytes(data)
    except (StorageError, InvalidTaskPackage) as exc:
        raise RoundInputUnavailable(f"task package {pool.task_cid_str}: {exc}") from exc


async def fetch_record(store: ContentStore, state: Round) -> RoundRecord:
    """Round `state`'s record (by `record_cid`); `RoundInputUnavailable`."""
    cid = state.record_cid_str
    try:
        data = await asyncio.to_thread(store.get, cid)
        return RoundRecord.from_bytes(data)
    except (StorageError, InvalidRoundRecord) as exc:
        raise RoundInputUnavailable(f"round {state.round} record ({cid}): {exc}") from exc


async def fetch_submission_bytes(store: ContentStore, cid: str, wallet: Pubkey) -> bytes | None:
    """The bytes stored under a revealed CID; None when the CID is not a CID
    (the participant's fault), `UpdateUnavailable` when the store fails."""
    if not is_cid(cid):
        return None
    try:
        return await asyncio.to_thread(store.get, cid)
    except StorageError as exc:
        raise operator.UpdateUnavailable(f"{wallet}: {exc}") from exc


def sealed_to(task: TaskPackage, number: int, previous: RoundRecord | None) -> bytes | None:
    """The public key round `number`'s updates are sealed to, given round
    `number - 1`'s record (`previous`, None for round 1): None when the
    pool's updates are not encrypted, round 1's from the task package, round
    n+1's from round n's record (both bound on chain by a CID). Raises
    `RoundInputUnavailable` when the record names no key."""
    if not task.privacy.encrypt_updates:
        return None
    if number == 1:
        return task.privacy.round_key
    if previous is None or previous.next_round_key is None:
        raise RoundInputUnavailable(f"round {number - 1}'s record names no round key")
    return previous.next_round_key


async def round_public_key(
    chain: ChainGateway, store: ContentStore, pool_key: Pubkey, task: TaskPackage, number: int
) -> bytes | None:
    """`sealed_to` for round `number`, reading round `number - 1`'s record
    when it is needed. Raises `RoundInputUnavailable` when the previous round
    is not finalized or its record names no key."""
    if not task.privacy.encrypt_updates or number == 1:
        return sealed_to(task, number, None)
    before = await find_round(chain, pool_key, number - 1)
    if before is None or not before.finalized:
        raise RoundInputUnavailable(f"round {number - 1} of pool {pool_key} is not finalized")
    return sealed_to(task, number, await fetch_record(store, before))


def _round_keypair(
    keys: RoundKeyStore | None, pool_key: Pubkey, number: int, public: bytes | None
) -> RoundKeypair | None:
    """Round `number`'s key pair (of `public`) from the operator's store (None: not encrypted)."""
    if public is None:
        return None
    if keys is None:
        raise RoundInputUnavailable(f"pool {pool_key} encrypts updates: no round key store")
    try:
        return keys.load(public)
    except (RoundKeyMissing, InvalidRoundKey) as exc:
        raise RoundInputUnavailable(f"round {number}: {exc}") from exc


async def _resealed_sources(
    store: ContentStore, sources: dict[Pubkey, Tensors], contents: list[Source], public: bytes
) -> list[Source]:
    """The previous round's accepted updates (opened with its key) sealed
    again to this round's key and stored, so that this round's key alone
    opens every input of the round: same authors and plaintext hashes, new
    CIDs."""
    resealed: list[Source] = []
    for source in contents:
        sealed = seal_update(encode_tensors(sources[source.author]), public)
        try:
            cid = await asyncio.to_thread(store.put, sealed)
        except StorageError as exc:
            raise RoundInputUnavailable(f"storing source {source.author}: {exc}") from exc
        resealed.append(Source(source.author, source.hash, cid))
    return resealed


async def gather_round(
    chain: ChainGateway,
    store: ContentStore,
    pool_key: Pubkey,
    *,
    reference: ReferenceFn | None = None,
    keys: RoundKeyStore | None = None,
) -> RoundInputs:
    """The open round's inputs, once its reveal phase is over (see the module
    docstring). Raises, before anything is sent: `PoolNotFound`;
    `RoundMismatch` when the pool has no open round; `RoundNotReady` while the
    reveal phase is open; `UpdateUnavailable` / `RoundInputUnavailable`
    (`ReferenceMissing`) for inputs the operator cannot get, among them, in
    a pool with encrypted updates, the round's secret key (from `keys`; the
    next round's key pair is generated and saved there, and its public key
    goes into the round record). The sources, in such a pool, are opened
    with the previous round's key and sealed again to this round's, so one
    round key opens every input of its round."""
    pool = await load_pool(chain, pool_key)
    number = pool.round
    current = await find_round(chain, pool_key, number)
    if current is None or current.finalized:
        raise RoundMismatch(f"pool {pool_key} has no open round {number}")
    if not current.reveals_closed(await chain.unix_time()):
        raise RoundNotReady(f"round {number}: the reveal phase is still open")
    task = await fetch_task(store, pool)
    base_content = Content(bytes(pool.global_model_hash), pool.global_model_cid_str)
    if base_content.hash != bytes(current.base_model_hash):
        raise RoundMismatch(f"round {number}'s base is not the pool's global model")
    base = await fetch_tensors(store, base_content, "base model")

    previous_base = previous_content = record = None
    sources: dict[Pubkey, Tensors] = {}
    source_contents = []
    if number > 1:
        before = await find_round(chain, pool_key, number - 1)
        if before is None or not before.finalized:
            raise RoundMismatch(f"round {number - 1} of pool {pool_key} is not finalized")
        record = await fetch_record(store, before)
        if record.global_model.hash != base_content.hash:
            raise RoundInputUnavailable(f"round {number - 1}'s record names another global model")
        previous_content = record.base
        previous_base = await fetch_tensors(store, previous_content, "previous base model")
        source_contents = record.accepted_sources()
    round_key = _round_keypair(keys, pool_key, number, sealed_to(task, number, record))
    if source_contents and round_key is not None:
        public = await round_public_key(chain, store, pool_key, task, number - 1)
        previous_key = _round_keypair(keys, pool_key, number - 1, public)
    else:
        previous_key = None
    for source in source_contents:
        sources[source.author] = await fetch_tensors(
            store, Content(source.hash, source.cid), f"source {source.author}", previous_key
        )

    reference_tensors = reference_content = None
    if needs_reference(task.aggregation, pool.reward_policy):
        update = (
            None if reference is None else await asyncio.to_thread(reference, task, base, number)
        )
        if update is None:
            raise ReferenceMissing(
                f"pool {pool_key}: rule {task.aggregation.rule!r} with the "
                f"{pool.reward_policy.value} policy needs the operator's reference data"
            )
        reference_tensors = {k: v.astype("float32", copy=False) for k, v in update.items()}
        data = encode_tensors(reference_tensors)
        try:
            cid = await asyncio.to_thread(store.put, data)
        except StorageError as exc:
            raise RoundInputUnavailable(f"storing the reference update: {exc}") from exc
        reference_content = Content(tensors_hash(reference_tensors), cid)

    submissions = []
    for sub in await operator.round_submissions(chain, pool_key, number):
        entry = JudgedEntry.of_submission(sub)
        data = (
            None
            if entry.cid is None
            else await fetch_submission_bytes(store, entry.cid, sub.wallet)
        )
        submissions.append(SubmissionInput.of_entry(entry, data, bump=sub.bump))
    next_round_key = None
    if round_key is not None:  # last: a gather retried for a missing input has resealed nothing
        assert keys is not None
        source_contents = await _resealed_sources(store, sources, source_contents, round_key.public)
        next_round_key = keys.next_after(round_key.public).public
    return RoundInputs(
        pool=pool_key,
        round=number,
        aggregation=task.aggregation,
        norm_bound=declared_norm_bound(task),
        reward_policy=pool.reward_policy,
        base=base,
        base_content=base_content,
        submissions=submissions,
        previous_base=previous_base,
        previous_base_content=previous_content,
        reference=reference_tensors,
        reference_content=reference_content,
        sources=sources,
        source_contents=source_contents,
        round_key=round_key,
        next_round_key=next_round_key,
    )


async def store_outputs(store: ContentStore, decision: RoundDecision) -> tuple[str, str]:
    """Stores the global model and the round record; their CIDs (which must be
    the ones the record and the decision computed: `RoundInputUnavailable`
    otherwise, or when the store fails)."""
    try:
        model_cid = await asyncio.to_thread(store.put, decision.global_model)
        record_cid = await asyncio.to_thread(store.put, decision.record_bytes)
    except StorageError as exc:
        raise RoundInputUnavailable(f"storing round {decision.round}'s outputs: {exc}") from exc
    if model_cid != decision.global_cid:
        raise RoundInputUnavailable(f"the store named the global model {model_cid}")
    return model_cid, record_cid


async def judge_round(
    chain: ChainGateway,
    store: ContentStore,
    aggregator: Keypair,
    pool_key: Pubkey,
    *,
    reference: ReferenceFn | None = None,
    keys: RoundKeyStore | None = None,
) -> RoundOutcome:
    """Judges and finalizes the pool's open round once its reveal phase is
    over, in one go (no journal: the operator service uses
    `offchain.coordinator`). Raises what `gather_round` raises, before
    anything is sent; then the chain's errors."""
    inputs = await gather_round(chain, store, pool_key, reference=reference, keys=keys)
    decision = await asyncio.to_thread(decide_round, inputs)
    # each submission at the bump it was created with (not necessarily canonical),
    # from the listing gather_round already made
    bumps = {s.wallet: s.bump for s in inputs.submissions}
    for j in decision.judged:
        await operator.judge_submission(
            chain,
            aggregator,
            pool_key,
            decision.round,
            j.wallet,
            j.verdict,
            j.score_bps,
            j.reason,
            submission_bump=bumps.get(j.wallet),
        )
    model_cid, record_cid = await store_outputs(store, decision)
    await operator.record_finalization(
        chain, aggregator, pool_key, decision.round, decision.global_hash, model_cid, record_cid
    )
    return RoundOutcome(
        decision.round,
        decision.judged,
        decode_tensors(decision.global_model),
        decision.global_hash,
        model_cid,
        record_cid,
    )
