"""The participant agent: follows one pool, round after round, until it ends.

Each pass (`ParticipantAgent.step`) reads the chain — the pool, its current
round, this wallet's participant account and submission, the clock, two
reads — and does the one thing that state calls for, or says what it waits
for. The chain is the only source of truth about what was sent, so a crash
at any point resumes correctly: the next pass reads where things stand.
The only local state is the update journal (`journal.py`): the bytes of a
commitment, written before the commitment is sent and kept until its
verdict is reported, because nothing else can reveal them.

What a pass does, in the order it checks (docs/PROTOCOL.md for the windows):

1. Pool ended (Finished, Cancelled, Expired): claim (with `claim`, when
   reward is unpaid), then withdraw the stake; done when nothing is left.
2. Not a participant, pool Open: join with `stake` and `payout_wallet` (the
   payout secret is saved 0600 before the transaction).
3. Pool Open, joined: wait for training to start; past `join_deadline +
   expiry_grace`, expire the pool (`expire_pool`).
4. The round is past `expires_at` unfinalized (the aggregator went silent):
   expire it (`expire_round`).
5. No submission, submission phase open, Active: fetch the global model
   (its hash checked against the chain), train, journal, commit (the hash).
6. Committed, submission phase still open: wait for it to close (deadline,
   or everyone committed).
7. Committed, reveal phase: store the journaled bytes and reveal.
8. Revealed, verdict pending: wait for the verdict.
9. Judged: print the verdict (once), forget the bytes, wait for the next round.

Verdicts of rounds judged while the agent was down are printed on its next
pass from the leftover journal entries. A commitment is never sent twice:
the agent commits only when the chain shows none for the round (and the
program refuses a second one anyway), and a journaled update is reused for
its round, so a restart commits the very bytes it would have.

Errors: the program refusing a transaction (a deadline raced, a round
finalized meanwhile) makes the agent re-read the chain and carry on; the
same refusal twice in a row is raised. A chain or store that does not answer
is retried with capped exponential backoff. Everything else the agent
raises is a named `FedstakeError` and stops it: a global model whose bytes
do not match the chain's hash (`GlobalModelMismatch`, nothing is trained on
it or sent), unusable local data, a damaged journal, a round that would
spend more than the task's ε budget (`PrivacyBudgetExhausted`, for a task
that trains with DP-SGD: nothing is trained or sent).

With DP-SGD, each round's ε (from Opacus's accountant, for the task's δ)
and the running total are printed after training (the `privacy` event);
the running total is kept in `privacy.json` beside the journal, written
before the commitment, so a restart never forgets a spent round.

The agent never loops inside `client_kit`: it calls `client_kit.actions`
and sleeps between passes here (`poll_interval` seconds, polling the chain
through typed reads, which costs a participant two requests and works the
same on every backend).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission
from client_kit.actions import exits, participant
from client_kit.actions.reads import find_participant, find_submission, load_pool
from client_kit.amounts import format_sol
from client_kit.enums import ParticipantStatus, PoolStatus, Verdict
from client_kit.errors import (
    ChainError,
    ClusterUnreachable,
    FedstakeError,
    InvalidInput,
    TransactionFailed,
)
from client_kit.gateway.base import ChainGateway, TxResult
from client_kit.keys import load_payout_secret
from client_kit.storage.base import ContentStore
from client_kit.storage.errors import ContentNotFound, StorageError, StoreUnavailable
from client_kit.training.accounting import PrivacyLedger
from client_kit.training.behaviours import Behaviour, committed_update, tampered_bytes
from client_kit.training.data import Dataset, load_dataset, validate_dataset
from client_kit.training.task import TaskPackage
from client_kit.training.train import privacy_ledger
from offchain.agent.journal import JournalError, PendingUpdate, UpdateJournal
from offchain.agent.report import AgentEvent, Reporter
from offchain.aggregator import round_public_key

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_RETRY_MAX = 60.0


class AgentError(FedstakeError):
    """Root of the participant agent's own errors."""


class NotJoined(AgentError):
    """The wallet is not a participant and the pool no longer takes joins."""


class StakeRequired(InvalidInput):
    """The wallet must join first and no stake was given."""


@dataclass(frozen=True)
class AgentConfig:
    """What the agent is told. Amounts in lamports, intervals in seconds.

    `data` is the local dataset (a `.npz`/`.csv` path or a `Dataset`; it never
    leaves the machine); `data_dir` the agent's data folder (the update
    journal lives under it); `secrets_dir` where the payout secret is saved at
    the join and read at the claim (`client_kit.keys`). `stake` and
    `payout_wallet` (default: the wallet) are used only to join. `claim`:
    claim the reward with the agent's own key paying the fee (which links
    that key to the payout wallet on chain; without it, claim later through
    a relayer). `behaviour` is for demos and tests only
    (`client_kit.training.behaviours`). Training round r uses seed `seed + r`.
    """

    pool: Pubkey
    data: Path | Dataset
    data_dir: Path
    secrets_dir: Path
    stake: int | None = None
    payout_wallet: Pubkey | None = None
    behaviour: Behaviour = Behaviour.HONEST
    claim: bool = False
    seed: int = 0
    poll_interval: float = DEFAULT_POLL_INTERVAL
    retry_max: float = DEFAULT_RETRY_MAX


@dataclass(frozen=True)
class Acted:
    """A pass sent something (or found the state moved): read again at once."""


@dataclass(frozen=True)
class Waiting:
    """A pass found nothing to do until the chain moves: what for, and the
    chain time (unix seconds) of the deadline that ends the wait, if any."""

    text: str
    until: int | None = None
    now: int | None = None

    @property
    def seconds_left(self) -> int | None:
        if self.until is None or self.now is None:
            return None
        return max(0, self.until - self.now)


@dataclass(frozen=True)
class Ended:
    """The pool ended and the agent has nothing left to do in it."""

    status: PoolStatus
    summary: str


Outcome = Acted | Waiting | Ended
ACTED = Acted()


class ParticipantAgent:
    """One wallet's agent in one pool; `run()` follows the pool to its end.

    `chain`, `store` and `wallet` are used through `client_kit.actions` only.
    The agent is resumable: a new instance with the same wallet and
    `data_dir` picks up where a crashed one stopped.
    """

    def __init__(
        self,
        chain: ChainGateway,
        store: ContentStore,
        wallet: Keypair,
        config: AgentConfig,
        reporter: Reporter | None = None,
    ) -> None:
        self.chain = chain
        self.store = store
        self.wallet = wallet
        self.config = config
        self.pool = config.pool
        self.reporter = reporter or Reporter()
        self.journal = UpdateJournal(config.data_dir, config.pool, wallet.pubkey())
        self.dataset: Dataset | None = None
        self._awaiting: set[int] = set()  # rounds whose verdict is still to be printed
        self._noted: set[tuple[str, int]] = set()  # (kind, round) lines printed once
        self._last_seen: Participant | None = None
        self._task: TaskPackage | None = None  # the pool's task package (its CID never changes)

    # --- running -----------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Checks everything that can be checked before anything is sent: the
        pool exists (`PoolNotFound`), its task can be fetched, the local data
        fits the task's model (`InvalidDataset`), and a wallet that still has
        to join can (`NotJoined`, `StakeRequired`, `StakeTooLow`)."""
        state = await load_pool(self.chain, self.pool)
        task = self._task = await participant.fetch_task(self.store, state)
        data = self.config.data
        if isinstance(data, Dataset):
            self.dataset = validate_dataset(data.x, data.y, task.model)
        else:
            self.dataset = await asyncio.to_thread(load_dataset, data, task.model)
        if state.ended:
            return
        if await find_participant(self.chain, self.pool, self.wallet.pubkey()) is None:
            self._check_can_join(state)

    async def run(self, *, once: bool = False) -> Ended | Waiting:
        """`prepare()`, then passes until the pool ended (returns `Ended`) or,
        with `once`, until the first wait (returns that `Waiting`).

        Named errors that stop the agent propagate (see the module docstring);
        cancelling the task stops it between two chain reads or sends, and a
        new agent resumes from the chain.
        """
        try:
            await self.prepare()
            return await self._loop(once)
        finally:
            self.reporter.close()

    async def _loop(self, once: bool) -> Ended | Waiting:
        failures = 0
        last_refusal: str | None = None
        while True:
            try:
                outcome = await self.step()
            except TransactionFailed as exc:
                refusal = str(exc)
                if refusal == last_refusal:
                    raise
                last_refusal = refusal
                self._event("refused", error=refusal)
                continue
            except (ChainError, StorageError) as exc:
                if once or not _transient(exc):
                    raise
                failures += 1
                delay = min(self.config.retry_max, self.config.poll_interval * 2**failures)
                self._event("retrying", error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if isinstance(outcome, Ended):
                self._event("ended", status=outcome.status.value, summary=outcome.summary)
                return outcome
            if isinstance(outcome, Waiting):
                last_refusal = None
                if once:
                    return outcome
                self.reporter.waiting(outcome.text, outcome.seconds_left)
                await asyncio.sleep(self.config.poll_interval)

    # --- one pass ----------------------------------------------------------------------------

    async def step(self) -> Outcome:
        """Reads the chain and does the one thing it calls for (see the list
        in the module docstring)."""
        view = await participant.round_standing(self.chain, self.pool, self.wallet.pubkey())
        await self._report_past_rounds(view.pool)
        state, me = view.pool, view.participant
        if me is not None:
            self._last_seen = me
        if state.ended:
            return await self._finish(state, me)
        if me is None:
            return await self._join(state)
        if state.status is PoolStatus.OPEN:
            expiry = state.join_deadline + state.expiry_grace
            if view.now >= expiry:
                tx = await exits.expire_pool(self.chain, self.wallet, self.pool)
                self._sent("pool_expired", tx)
                return ACTED
            return Waiting("waiting for the organization to start training", expiry, view.now)
        current = view.round
        if current is None:  # the pool names a round that does not exist: re-read
            return Waiting(f"round {state.round} is not readable yet", None, view.now)
        if not current.finalized and view.now >= current.expires_at:
            tx = await exits.expire_round(self.chain, self.wallet, self.pool)
            self._sent("expired", tx, round=current.round)
            return ACTED
        return await self._in_round(current, me, view.submission, view.now)

    async def _in_round(
        self, current: Round, me: Participant, sub: Submission | None, now: int
    ) -> Outcome:
        number = current.round
        if sub is None:
            if me.status is not ParticipantStatus.ACTIVE:
                return Waiting(
                    f"{me.status.value}: no more submissions; waiting for the pool to end"
                )
            if current.submissions_closed(now):
                self._note(number, "missed", "the submission phase closed before a commitment")
                return Waiting(
                    f"round {number}: waiting for the next round", current.expires_at, now
                )
            return await self._commit(number)
        if sub.verdict is not Verdict.PENDING:
            self._report_verdict(sub)
            return Waiting(
                f"round {number}: judged; waiting for the round to be finalized",
                current.expires_at,
                now,
            )
        self._awaiting.add(number)
        if sub.revealed:
            return Waiting(
                f"round {number}: revealed; waiting for the verdict", current.expires_at, now
            )
        if not current.submissions_closed(now):
            return Waiting(
                f"round {number}: committed; waiting for the submission phase to close",
                current.deadline,
                now,
            )
        if now >= current.reveal_deadline:
            self._note(number, "missed", "the reveal deadline passed before the reveal")
            return Waiting(f"round {number}: waiting for the verdict", current.expires_at, now)
        return await self._reveal(number, sub, current, now)

    # --- the steps that send -----------------------------------------------------------------

    def _check_can_join(self, state: Pool) -> None:
        if state.status is not PoolStatus.OPEN:
            raise NotJoined(
                f"{self.wallet.pubkey()} is not a participant of pool {self.pool}, which is "
                f"{state.status.value}: joining is possible only while it is Open"
            )
        if self.config.stake is None:
            raise StakeRequired(f"not a participant of pool {self.pool} yet: give a stake to join")
        if self.config.stake < state.min_stake:
            raise participant.StakeTooLow(
                f"stake of {self.config.stake} lamports is below the pool's minimum of "
                f"{state.min_stake}"
            )

    async def _join(self, state: Pool) -> Outcome:
        if self._last_seen is not None:  # joined, then the account went away: nothing to follow
            return Ended(state.status, "the participant account is closed")
        self._check_can_join(state)
        assert self.config.stake is not None
        joined = await participant.join_pool(
            self.chain,
            self.wallet,
            self.pool,
            self.config.stake,
            payout_wallet=self.config.payout_wallet,
            secrets_dir=self.config.secrets_dir,
        )
        self._sent(
            "joined", joined.tx, stake_lamports=joined.stake, payout_secret=str(joined.secret_path)
        )
        return ACTED

    async def _commit(self, number: int) -> Outcome:
        inputs = await participant.fetch_round_inputs(self.chain, self.store, self.pool)
        if inputs.state.round != number:
            return ACTED  # the round moved on while we read: look again
        try:
            entry = self.journal.load(number)
        except JournalError:
            entry = None  # nothing was committed for it: a fresh update replaces it
        if entry is None or entry.base_model_hash != inputs.state.global_model_hash:
            entry = await self._make_update(inputs)
            self.journal.save(entry)  # before the commitment: the reveal needs these bytes
        sent = await participant.submit_update(
            self.chain, self.wallet, self.pool, entry.prepared, entry.num_samples
        )
        self._awaiting.add(number)
        self._sent(
            "committed",
            sent.tx,
            round=number,
            update_hash=entry.update_hash.hex(),
            num_samples=entry.num_samples,
            behaviour=self.config.behaviour.value,
        )
        return ACTED

    async def _make_update(self, inputs: participant.RoundInputs) -> PendingUpdate:
        number = inputs.state.round
        assert self.dataset is not None, "prepare() first"
        behaviour = self.config.behaviour
        if behaviour.trains:
            ledger = self._privacy_ledger(inputs.task)
            result = await participant.train_round(
                inputs,
                self.dataset,
                seed=self.config.seed + number,
                progress=self._training_progress(number),
                ledger=ledger,
            )
            self._event(
                "trained",
                round=number,
                num_samples=result.num_samples,
                initial_loss=round(result.initial_loss, 6),
                train_loss=round(result.train_loss, 6),
            )
            if result.dp_sgd is not None and ledger is not None:
                ledger.save(self._ledger_path)  # before the commitment: the ε is spent
                dp = result.dp_sgd
                self._event(
                    "privacy",
                    round=number,
                    epsilon_round=dp.epsilon_round,
                    epsilon_total=dp.epsilon_total,
                    epsilon_budget=dp.budget,
                    delta=dp.delta,
                    noise_multiplier=dp.noise_multiplier,
                    accountant=dp.accountant,
                )
            trained = result.update
        else:
            trained = inputs.global_model  # only its shapes are used
        prepared = participant.prepare_update(committed_update(behaviour, trained))
        reveal = tampered_bytes(prepared.data) if behaviour is Behaviour.TAMPERED else prepared.data
        return PendingUpdate(
            round=number,
            base_model_hash=inputs.state.global_model_hash,
            update_hash=prepared.update_hash,
            num_samples=len(self.dataset),
            reveal=reveal,
        )

    @property
    def _ledger_path(self) -> Path:
        return self.journal.folder / "privacy.json"

    def _privacy_ledger(self, task: TaskPackage) -> PrivacyLedger | None:
        """The ε this wallet spent in this pool so far (saved beside the
        journal), for a task that trains with DP-SGD; None otherwise."""
        if task.training.dp_sgd is None:
            return None
        return PrivacyLedger.load(self._ledger_path) or privacy_ledger(task)

    def _training_progress(self, number: int) -> Callable[[int, int, float], None]:
        def on_epoch(done: int, total: int, loss: float) -> None:
            self.reporter.training(number, done, total, loss)

        return on_epoch

    async def _reveal(self, number: int, sub: Submission, current: Round, now: int) -> Outcome:
        try:
            entry = self.journal.load(number)
        except JournalError as exc:
            self._note(number, "missed", f"cannot reveal: {exc}")
            return Waiting(f"round {number}: waiting for the verdict", current.expires_at, now)
        if entry is None:
            self._note(
                number, "missed", "cannot reveal: the committed update is not in the data folder"
            )
            return Waiting(f"round {number}: waiting for the verdict", current.expires_at, now)
        try:
            revealed = await participant.reveal_update(
                self.chain,
                self.store,
                self.wallet,
                self.pool,
                entry.prepared,
                seal_to=await self._round_key(number),
            )
        except participant.NotTheCommittedUpdate:
            self._note(
                number, "missed", "cannot reveal: the journaled update is not the committed one"
            )
            return Waiting(f"round {number}: waiting for the verdict", current.expires_at, now)
        except (participant.RevealNotOpen, participant.RevealWindowClosed) as exc:
            return Waiting(f"round {number}: {exc}", current.reveal_deadline, now)
        self._sent("revealed", revealed.tx, round=number, update_cid=revealed.update_cid)
        return ACTED

    async def _round_key(self, number: int) -> bytes | None:
        """The public key round `number`'s update is sealed to, in a pool with
        encrypted updates (task package for round 1, previous round's record
        after); None otherwise. `RoundInputUnavailable` (transient) when it
        cannot be read yet."""
        if self._task is None:  # `step` without `prepare`
            state = await load_pool(self.chain, self.pool)
            self._task = await participant.fetch_task(self.store, state)
        return await round_public_key(self.chain, self.store, self.pool, self._task, number)

    async def _finish(self, state: Pool, me: Participant | None) -> Outcome:
        if me is None:
            return Ended(state.status, self._summary())
        if self.config.claim and me.reward_unpaid > 0:
            secret = load_payout_secret(self.config.secrets_dir, self.pool, self.wallet.pubkey())
            claimed = await participant.claim_reward(self.chain, self.wallet, self.pool, secret)
            self._sent(
                "claimed",
                claimed.tx,
                paid_lamports=claimed.paid,
                payout_wallet=str(claimed.payout_wallet),
            )
            return ACTED
        if me.stake > 0 or me.reward_unpaid == 0:
            done = await participant.withdraw_stake(self.chain, self.wallet, self.pool)
            self._sent("withdrawn", done.tx, returned_lamports=done.returned, closed=done.closed)
            return ACTED
        unpaid = format_sol(me.reward_unpaid)
        return Ended(
            state.status,
            f"{self._summary()}; {unpaid} of reward unpaid: claim it with "
            f"`fedstake claim {self.pool}` or through a relayer",
        )

    # --- reporting ---------------------------------------------------------------------------

    async def _report_past_rounds(self, state: Pool) -> None:
        """Prints the verdicts of journaled rounds that ended while the agent
        was not looking, and forgets their bytes."""
        for number in self.journal.rounds():
            if number >= state.round and not state.ended:
                continue
            sub = await find_submission(self.chain, self.pool, number, self.wallet.pubkey())
            if sub is not None and sub.verdict is not Verdict.PENDING:
                self._awaiting.add(number)
                self._report_verdict(sub)
            elif state.ended or sub is None:
                why = "never judged: the pool ended" if sub is not None else "never committed"
                self._note(number, "missed", why)
                self.journal.discard(number)

    def _report_verdict(self, sub: Submission) -> None:
        number = sub.round
        if number not in self._awaiting and number not in self.journal.rounds():
            return  # printed before a restart
        self._awaiting.discard(number)
        self._event(
            "verdict",
            round=number,
            verdict=sub.verdict.value,
            reason=sub.reason.code,
            score_bps=sub.score,
            reward_lamports=sub.reward,
            slashed_lamports=sub.slashed,
            update_hash=sub.update_hash.hex() if sub.revealed else None,
        )
        self.journal.discard(number)

    def _note(self, number: int, kind: str, why: str) -> None:
        if (kind, number) not in self._noted:
            self._noted.add((kind, number))
            self._event(kind, round=number, why=why)

    def _summary(self) -> str:
        me = self._last_seen
        if me is None:
            return "this wallet holds nothing in the pool"
        return (
            f"accepted {me.accepted_count}, excluded {me.excluded_count}, slashed "
            f"{me.slashed_count}; reward earned {format_sol(me.reward_accrued)}"
        )

    def _sent(self, kind: str, tx: TxResult, **fields: object) -> None:
        """An event for a transaction that landed (its signature added)."""
        self._event(kind, **fields, signature=tx.signature)

    def _event(self, kind: str, **fields: object) -> None:
        self.reporter.event(AgentEvent(kind, {"pool": str(self.pool), **fields}))


def _transient(exc: BaseException) -> bool:
    """A failure to reach the chain or the store (retried), as opposed to a
    refusal or a misconfiguration (raised)."""
    if isinstance(exc, ClusterUnreachable | StoreUnavailable | ContentNotFound):
        return True
    return type(exc) is ChainError  # an RPC error answer, e.g. a node still starting
