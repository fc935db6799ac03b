"""What a participant does in a pool: join with a hidden payout wallet, fetch
the task and the current global model (checked against the chain), train,
commit to an update and reveal it, and at the end claim and withdraw.

An update goes out in three steps (docs/PROTOCOL.md, "A round, phase by
phase"): `prepare_update` turns tensors or bytes into canonical bytes and
their hash; `submit_update` records only the commitment during the
submission phase, and stores nothing — uploading the bytes earlier would let
peers copy the update through the storage network; `reveal_update`, once the
submission phase is closed, stores the bytes and reveals their CID. A
commitment not revealed by the round's reveal deadline is slashed.

Amounts are lamports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission
from client_kit.actions.reads import (
    ParticipantNotFound,
    decode_found,
    find_round,
    find_submission,
    instructions,
    load_pool,
)
from client_kit.canonical import (
    Tensors,
    canonical_hash,
    decode_tensors,
    encode_tensors,
    update_commitment,
)
from client_kit.enums import PoolStatus
from client_kit.errors import FedstakeError, InvalidInput
from client_kit.events import StakeWithdrawn
from client_kit.gateway.base import ChainGateway, TxResult
from client_kit.keys import (
    PayoutSecret,
    generate_salt,
    payout_commitment,
    save_payout_secret,
)
from client_kit.sealing import seal_update
from client_kit.storage.base import ContentStore, ProgressCallback
from client_kit.training.accounting import PrivacyLedger
from client_kit.training.data import Dataset
from client_kit.training.task import TaskPackage
from client_kit.training.train import EpochProgress, TrainResult, train_local


class StakeTooLow(InvalidInput):
    """The stake is below the pool's minimum (checked before sending)."""


class PoolNotTraining(FedstakeError):
    """The pool has no open round (not started, finished or cancelled)."""


class GlobalModelMismatch(FedstakeError):
    """The stored global model does not hash to what the chain records."""


class NotCommitted(FedstakeError):
    """The wallet has no commitment in the round it tries to reveal for."""


class NotTheCommittedUpdate(InvalidInput):
    """The update given to reveal is not the one the wallet committed to."""


class RevealNotOpen(FedstakeError):
    """The round's submission phase is still open: revealing (and storing the
    bytes) now would show the update to peers who have not committed yet."""


class RevealWindowClosed(FedstakeError):
    """The round's reveal deadline has passed; the commitment can no longer be revealed."""


@dataclass(frozen=True)
class Joined:
    """A join: the stake, the payout secret behind the commitment (and the
    file it was saved to, if any), and the transaction."""

    pool: Pubkey
    stake: int
    secret: PayoutSecret
    secret_path: Path | None
    tx: TxResult


@dataclass(frozen=True, eq=False)  # holds arrays
class RoundInputs:
    """What training a round needs: the pool, its task and its global model."""

    pool: Pubkey
    state: Pool
    task: TaskPackage
    global_model: Tensors


@dataclass(frozen=True)
class PreparedUpdate:
    """An update as it is stored and committed: canonical bytes and their SHA-256.

    `prepare_update` builds a consistent one; the fields are taken as given by
    `submit_update` (so a test can play a participant that lies about its hash).
    """

    data: bytes
    update_hash: bytes


@dataclass(frozen=True)
class Submitted:
    """A commitment: the round, the update's hash (kept private: only
    `update_commitment` = sha256(update_hash ‖ wallet) is on chain; nothing is
    stored yet), the transaction."""

    pool: Pubkey
    round: int
    update_hash: bytes
    update_commitment: bytes
    tx: TxResult


@dataclass(frozen=True)
class Revealed:
    """A reveal: the round, where the committed update's bytes are now stored,
    and the transaction."""

    pool: Pubkey
    round: int
    update_cid: str
    tx: TxResult


@dataclass(frozen=True)
class Claimed:
    """A claim: the committed wallet that was paid and how much (lamports)."""

    pool: Pubkey
    payout_wallet: Pubkey
    paid: int
    tx: TxResult


@dataclass(frozen=True)
class Withdrawn:
    """A withdrawal: lamports returned to the wallet (stake, plus the account's
    rent if it `closed`, minus the fee). The account stays open (Exited, stake
    0) while reward is unpaid: claim it, then withdraw again to close."""

    pool: Pubkey
    returned: int
    closed: bool
    tx: TxResult


@dataclass(frozen=True)
class RoundStanding:
    """Everything a participant follows, read at one moment: the pool, its
    current round (None before training starts), the wallet's participant
    account (None if it never joined or has withdrawn and closed it), its
    submission in the current round (None if it has not committed), and the
    chain's clock (unix seconds)."""

    pool: Pool
    round: Round | None
    participant: Participant | None
    submission: Submission | None
    now: int


@dataclass(frozen=True)
class ParticipantView:
    """A participant's standing: pool, account, the current round's submission
    (if any) and the chain's clock (unix seconds)."""

    pool: Pool
    participant: Participant
    submission: Submission | None
    now: int


async def join_pool(
    chain: ChainGateway,
    wallet: Keypair,
    pool: Pubkey,
    stake: int,
    *,
    payout_wallet: Pubkey | None = None,
    salt: bytes | None = None,
    secrets_dir: Path | None = None,
) -> Joined:
    """Stakes `stake` lamports and commits to `payout_wallet` (default: the
    wallet) as sha256(payout_wallet ‖ salt), with a fresh salt unless given.

    With `secrets_dir` the secret is saved there (mode 0600) *before* the
    transaction and removed if it fails: losing it would lose the rewards.
    Raises `StakeTooLow` below the pool's minimum, before anything is sent.
    """
    state = await load_pool(chain, pool)
    if stake < state.min_stake:
        raise StakeTooLow(
            f"stake of {stake} lamports is below the pool's minimum of {state.min_stake}"
        )
    payout = payout_wallet or wallet.pubkey()
    secret = PayoutSecret(pool, wallet.pubkey(), payout, salt or generate_salt())
    path = None
    if secrets_dir is not None:
        path = save_payout_secret(secrets_dir, pool, wallet.pubkey(), payout, secret.salt)
    ix = instructions(chain).join_pool(
        wallet.pubkey(), pool, stake, payout_commitment(payout, secret.salt)
    )
    try:
        tx = await chain.send([ix], [wallet])
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return Joined(pool, stake, secret, path, tx)


async def fetch_task(
    store: ContentStore, state: Pool, *, progress: ProgressCallback | None = None
) -> TaskPackage:
    """The pool's task package, fetched by its CID (`state` is the pool as
    read). Raises `InvalidTaskPackage` for bytes that are not one,
    `StorageError`s when the store cannot deliver."""
    data = await asyncio.to_thread(store.get, state.task_cid_str, progress=progress)
    return TaskPackage.from_bytes(data)


async def fetch_round_inputs(
    chain: ChainGateway,
    store: ContentStore,
    pool: Pubkey,
    *,
    progress: ProgressCallback | None = None,
) -> RoundInputs:
    """The pool's task package and current global model, fetched by CID.

    Raises `GlobalModelMismatch` if the model's bytes do not hash to the
    chain's `global_model_hash`, `InvalidTaskPackage` / `MalformedUpdate` for
    bytes that are not a task package / canonical tensors, `StorageError`s
    when the store cannot deliver.
    """
    state = await load_pool(chain, pool)
    task = await fetch_task(store, state, progress=progress)
    model = await asyncio.to_thread(store.get, state.global_model_cid_str, progress=progress)
    if canonical_hash(model) != state.global_model_hash:
        raise GlobalModelMismatch(
            "the stored global model does not match the hash recorded on chain"
        )
    return RoundInputs(pool, state, task, decode_tensors(model))


async def train_round(
    inputs: RoundInputs,
    dataset: Dataset | str | Path,
    *,
    seed: int = 0,
    progress: EpochProgress | None = None,
    ledger: PrivacyLedger | None = None,
) -> TrainResult:
    """Trains the task's model from the global weights on local data (never
    sent anywhere); returns the update (a delta) and its metrics. Runs in a
    worker thread so the event loop stays free.

    For a task with DP-SGD the round is charged to `ledger` (the
    participant's ε so far; `PrivacyBudgetExhausted` before any training
    when the round would go past the task's budget)."""
    return await asyncio.to_thread(
        train_local,
        inputs.task,
        inputs.global_model,
        dataset,
        seed=seed,
        progress=progress,
        round=inputs.state.round,
        ledger=ledger,
    )


def prepare_update(update: bytes | Mapping[str, object]) -> PreparedUpdate:
    """Canonical bytes and hash of an update given as tensors or as bytes.

    Bytes are decoded first, so a file that is not canonical tensor bytes
    raises `MalformedUpdate` here rather than being stored and slashed.
    """
    if isinstance(update, bytes | bytearray | memoryview):
        data = bytes(update)
        decode_tensors(data)
    else:
        data = encode_tensors(update)
    return PreparedUpdate(data, canonical_hash(data))


async def submit_update(
    chain: ChainGateway,
    wallet: Keypair,
    pool: Pubkey,
    update: PreparedUpdate,
    num_samples: int,
) -> Submitted:
    """Commits to the update for the pool's open round: records only
    sha256(update_hash ‖ wallet) (nothing is stored: see the module
    docstring), citing the pool's current global model hash as its base.

    Raises `PoolNotTraining` when no round is open (nothing sent); program
    errors (deadline passed, already submitted, not active) come back as
    `FedstakeProgramError`.
    """
    state = await load_pool(chain, pool)
    if state.status is not PoolStatus.TRAINING:
        raise PoolNotTraining(f"pool is {state.status}, not {PoolStatus.TRAINING}")
    commitment = update_commitment(update.update_hash, bytes(wallet.pubkey()))
    ix = instructions(chain).submit_update(
        wallet.pubkey(),
        pool,
        state.round,
        update_commitment=commitment,
        num_samples=num_samples,
        base_model_hash=state.global_model_hash,
    )
    tx = await chain.send([ix], [wallet])
    return Submitted(pool, state.round, update.update_hash, commitment, tx)


async def reveal_update(
    chain: ChainGateway,
    store: ContentStore,
    wallet: Keypair,
    pool: Pubkey,
    update: PreparedUpdate,
    *,
    progress: ProgressCallback | None = None,
    seal_to: bytes | None = None,
) -> Revealed:
    """Stores the committed update's bytes and opens the commitment (the
    update's hash and the bytes' CID) for the pool's current round, once its
    submission phase is closed (deadline passed, or every eligible
    participant committed) and before its reveal deadline.

    Checked before anything is stored: `NotCommitted` (no commitment of this
    wallet in the round), `NotTheCommittedUpdate` (another update's bytes),
    `RevealNotOpen` (the submission phase is still open), `RevealWindowClosed`.
    Program errors come back as `FedstakeProgramError`.

    `seal_to`: in a pool with encrypted updates, the round's aggregator public
    key (32 bytes): the stored bytes are then the update sealed to it
    (`client_kit.sealing.seal_update`), and the CID names that ciphertext,
    while the revealed hash still binds the plaintext's canonical bytes.
    """
    state = await load_pool(chain, pool)
    submission = await find_submission(chain, pool, state.round, wallet.pubkey())
    if submission is None:
        raise NotCommitted(f"{wallet.pubkey()} has no commitment in round {state.round}")
    opened = update_commitment(update.update_hash, bytes(wallet.pubkey()))
    if opened != submission.update_commitment:
        raise NotTheCommittedUpdate("this is not the update you committed to (hash differs)")
    current = await find_round(chain, pool, state.round)
    now = await chain.unix_time()
    if current is None or not current.submissions_closed(now):
        raise RevealNotOpen(
            f"round {state.round}'s submission phase is still open: reveal after it closes"
        )
    if now >= current.reveal_deadline:
        raise RevealWindowClosed(f"round {state.round}'s reveal deadline has passed")
    stored = update.data if seal_to is None else seal_update(update.data, seal_to)
    cid = await asyncio.to_thread(store.put, stored, progress=progress)
    ix = instructions(chain).reveal_update(
        wallet.pubkey(), pool, state.round, update.update_hash, cid
    )
    tx = await chain.send([ix], [wallet])
    return Revealed(pool, state.round, cid, tx)


async def claim_reward(
    chain: ChainGateway, payer: Keypair, pool: Pubkey, secret: PayoutSecret
) -> Claimed:
    """Reveals `secret` (payout wallet and salt); the program pays the committed
    wallet what the participant has earned and not been paid. `payer` only
    pays the fee: the trainer, or any relayer."""
    ix = instructions(chain).claim_reward(pool, secret.wallet, secret.payout_wallet, secret.salt)
    before = await chain.get_balance(secret.payout_wallet)
    tx = await chain.send([ix], [payer])
    paid = await chain.get_balance(secret.payout_wallet) - before
    return Claimed(pool, secret.payout_wallet, paid, tx)


async def withdraw_stake(chain: ChainGateway, wallet: Keypair, pool: Pubkey) -> Withdrawn:
    """Takes back the remaining (unslashed) stake once the pool ended (Finished,
    Cancelled or Expired), whether or not the reward was claimed. Closes the
    participant account (rent back to the wallet) when no reward is unpaid;
    otherwise it stays until the reward is claimed and this is called again,
    or until anyone settles it after the claim window."""
    await load_pool(chain, pool)
    before = await chain.get_balance(wallet.pubkey())
    tx = await chain.send([instructions(chain).withdraw_stake(wallet.pubkey(), pool)], [wallet])
    closed = any(isinstance(e, StakeWithdrawn) and e.closed for e in tx.events)
    return Withdrawn(pool, await chain.get_balance(wallet.pubkey()) - before, closed, tx)


async def close_submission(
    chain: ChainGateway, wallet: Keypair, pool: Pubkey, round_number: int
) -> TxResult:
    """Reclaims the rent of a judged submission of a finalized round."""
    ix = instructions(chain).close_submission(wallet.pubkey(), pool, round_number)
    return await chain.send([ix], [wallet])


async def round_standing(chain: ChainGateway, pool: Pubkey, wallet: Pubkey) -> RoundStanding:
    """The pool, its current round, `wallet`'s participant account and its
    submission in that round (each None if absent), and the clock: two reads
    (the pool, then the other three in one batch, `getMultipleAccounts` on rpc).
    Raises `PoolNotFound`."""
    state = await load_pool(chain, pool)
    ix = instructions(chain)
    keys = [
        ix.round(pool, state.round),
        ix.participant(pool, wallet),
        ix.submission(pool, state.round, wallet),
    ]
    infos = await chain.get_accounts(keys)  # round 0 (not started) has no accounts
    return RoundStanding(
        state,
        decode_found(chain, Round, infos[0]),
        decode_found(chain, Participant, infos[1]),
        decode_found(chain, Submission, infos[2]),
        await chain.unix_time(),
    )


async def participant_status(chain: ChainGateway, pool: Pubkey, wallet: Pubkey) -> ParticipantView:
    """`wallet`'s standing in `pool`; `ParticipantNotFound` if it has not joined."""
    standing = await round_standing(chain, pool, wallet)
    if standing.participant is None:
        raise ParticipantNotFound(f"{wallet} has not joined pool {pool} (or has withdrawn)")
    return ParticipantView(standing.pool, standing.participant, standing.submission, standing.now)
