"""What the operator (the pool's aggregator key) does each round: list the
round's submissions, fetch each revealed update and check it against its
on-chain hash, judge each submission, store the new global model and finalize.

Deciding the verdicts (the robust rule) is `offchain`'s job; these functions
only move data between the chain, the store and the caller. They keep the
operator's failures apart from the participant's faults: a store that
cannot deliver is `UpdateUnavailable` (never a verdict), while bytes that
were received and do not hash to the commitment are `UpdateHashMismatch`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Submission
from client_kit.actions.reads import instructions, list_submissions
from client_kit.canonical import Tensors, canonical_hash, decode_tensors
from client_kit.enums import Reason, ReasonKind, Verdict
from client_kit.errors import FedstakeError, InvalidInput
from client_kit.gateway.base import ChainGateway, TxResult
from client_kit.storage.base import ContentStore
from client_kit.storage.errors import InvalidCid, StorageError


class UpdateUnavailable(FedstakeError):
    """The store could not deliver a submission's update (the operator's side:
    unreachable, timed out, content not found or not matching its CID)."""


class UpdateHashMismatch(FedstakeError):
    """Bytes received for a submission's CID do not hash to its on-chain `update_hash`."""


class InvalidRevealedCid(FedstakeError):
    """The CID a participant revealed is not a CID (the participant's fault)."""


class NotRevealed(FedstakeError):
    """The submission's update was never revealed: there is nothing to fetch."""


@dataclass(frozen=True)
class Finalized:
    """A finalized round: the global model's hash and CID, the round record's
    CID, and the transaction."""

    pool: Pubkey
    round: int
    global_model_hash: bytes
    global_model_cid: str
    record_cid: str
    tx: TxResult


async def round_submissions(
    chain: ChainGateway, pool: Pubkey, round_number: int
) -> list[Submission]:
    """Every submission of `pool` for `round_number`, ordered by wallet.

    One `program_accounts` query filtered by discriminator, size, pool and
    round, so the chain returns only these accounts.
    """
    return [state for _, state in await list_submissions(chain, pool, round_number)]


async def fetch_update(
    store: ContentStore, submission: Submission, *, max_bytes: int | None = None
) -> Tensors:
    """The submission's revealed update, fetched by CID, checked and decoded.

    Raises `NotRevealed` (no CID yet), `InvalidRevealedCid` (the revealed CID
    is not one), `UpdateUnavailable` (the store failed: not the participant's
    fault), `UpdateHashMismatch` (bytes received differ from the on-chain
    hash), or `MalformedUpdate` (not canonical tensor bytes).
    """
    if not submission.revealed:
        raise NotRevealed(f"{submission.wallet}: round {submission.round} update not revealed")
    try:
        cid = submission.update_cid_str
        data = await asyncio.to_thread(store.get, cid, max_bytes=max_bytes)
    except InvalidCid as exc:
        raise InvalidRevealedCid(f"{submission.wallet}: {exc}") from exc
    except StorageError as exc:
        raise UpdateUnavailable(f"{submission.wallet}: {exc}") from exc
    if canonical_hash(data) != submission.update_hash:
        raise UpdateHashMismatch(f"{submission.wallet}: stored bytes differ from update_hash")
    return decode_tensors(data)


async def judge_submission(
    chain: ChainGateway,
    aggregator: Keypair,
    pool: Pubkey,
    round_number: int,
    wallet: Pubkey,
    verdict: Verdict,
    score: int,
    reason: Reason,
    *,
    submission_bump: int | None = None,
) -> TxResult:
    """Records one verdict: `score` in basis points of the round's reward for
    an accepted submission (0 otherwise), and the reason code, whose range
    must match the verdict (`Reason.verdict`; `InvalidInput` otherwise, before
    sending — the program would refuse it as `InvalidVerdict`).
    `submission_bump`: the submission's stored bump, when it was read (a
    participant may have committed at a non-canonical address; default: the
    canonical one)."""
    if verdict is Verdict.PENDING:
        raise InvalidInput("a judgment cannot be Pending")
    if reason.kind is ReasonKind.RESERVED or reason.verdict is not verdict:
        raise InvalidInput(f"reason {reason.code} ({int(reason)}) cannot go with {verdict}")
    ix = instructions(chain).judge_submission(
        aggregator.pubkey(),
        pool,
        round_number,
        wallet,
        verdict=verdict,
        score=score,
        reason=int(reason),
        submission_bump=submission_bump,
    )
    return await chain.send([ix], [aggregator])


async def finalize_round(
    chain: ChainGateway,
    store: ContentStore,
    aggregator: Keypair,
    pool: Pubkey,
    round_number: int,
    global_model: bytes,
    record: bytes,
) -> Finalized:
    """Stores the new global model's canonical bytes and the operator's round
    record (the bytes `verify-round` reruns the round from), then records the
    model's hash and both CIDs as round `round_number`'s result (opening the
    next round, or finishing). Storage errors propagate before anything is sent."""
    model_hash = canonical_hash(global_model)
    model_cid = await asyncio.to_thread(store.put, global_model)
    record_cid = await asyncio.to_thread(store.put, record)
    return await record_finalization(
        chain, aggregator, pool, round_number, model_hash, model_cid, record_cid
    )


async def record_finalization(
    chain: ChainGateway,
    aggregator: Keypair,
    pool: Pubkey,
    round_number: int,
    global_model_hash: bytes,
    global_model_cid: str,
    record_cid: str,
) -> Finalized:
    """Sends `finalize_round` for content already stored: the global model's
    32-byte hash and CID, and the round record's CID."""
    ix = instructions(chain).finalize_round(
        aggregator.pubkey(), pool, round_number, global_model_hash, global_model_cid, record_cid
    )
    tx = await chain.send([ix], [aggregator])
    return Finalized(pool, round_number, global_model_hash, global_model_cid, record_cid, tx)
