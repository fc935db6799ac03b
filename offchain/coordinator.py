"""One pool's round state machine: submission → reveal → judge → finalize.

The chain decides when a phase ends (docs/PROTOCOL.md): the submission phase
at its deadline or once every eligible participant committed, the reveal
phase at its deadline or once every commitment is revealed. The coordinator
follows the chain's clock and state, woken by the pool's items on the bus
(a commitment, a reveal), by `wake()`, or after at most `poll` seconds, and
acts when the reveal phase is over:

1. gather the round's inputs and judge it (`offchain.aggregator.gather_round`,
   `offchain.judging.decide_round`) — a pure function of chain and storage;
2. journal the decisions durably (`offchain.journal`): verdicts, scores, the
   global model's bytes and hash, the round record;
3. send each verdict not yet on chain (looked up first: exactly once);
4. store the global model and the round record;
5. send `finalize_round` (unless the chain already has it);
6. evaluate the new global model on the operator's validation data and
   publish `offchain.events.RoundEvaluated` on the bus.

Crash-safe: a restart resumes from the journal and the chain. Before step 2
nothing was sent and the round is judged again (the same bytes: judging is
deterministic); after it, the journaled decisions are sent, never recomputed.

Operator-side failures (storage unreachable, an RPC error, a reference
update it cannot compute) never become verdicts: the step is retried with a
capped exponential backoff. If nobody can judge before the round's
`expires_at`, the round is left to expire (anyone may then `expire_round`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions import operator
from client_kit.actions.reads import find_round, find_submission, load_pool
from client_kit.canonical import decode_tensors
from client_kit.enums import PoolStatus, Verdict
from client_kit.errors import FedstakeError, FedstakeProgramError
from client_kit.gateway.base import ChainGateway
from client_kit.sealing import ROUND_KEYS_FOLDER, RoundKeyStore
from client_kit.storage.base import ContentStore
from client_kit.storage.errors import StorageError
from client_kit.training.task import TaskPackage
from offchain.aggregator import RoundInputUnavailable, fetch_task, gather_round
from offchain.bus import EventBus, SubscriberDropped, Subscription, event_field
from offchain.errors import RoundMismatch
from offchain.events import RoundEvaluated, RoundPrivacy
from offchain.faults import checkpoint
from offchain.journal import Journal, JournaledRound
from offchain.judging import decide_round
from offchain.record import RoundRecord
from offchain.reference import OperatorData

log = logging.getLogger(__name__)
ON_CHAIN = "on-chain"  # journal signature of a transaction found on chain, not sent here


class Phase(StrEnum):
    """Where a pool's current round stands, as the coordinator last saw it."""

    STARTING = "starting"
    WAITING = "waiting"  # the pool is Open: training has not started
    SUBMISSION = "submission"
    REVEAL = "reveal"
    JUDGE = "judge"
    FINALIZE = "finalize"
    EXPIRED = "expired"  # past expires_at unjudged: anyone may expire the round
    DONE = "done"  # the pool ended


@dataclass
class CoordinatorStatus:
    """A snapshot for `fedstake operator status` (times are unix seconds)."""

    pool: str
    phase: Phase = Phase.STARTING
    round: int = 0
    rounds_finalized: int = 0
    verdicts_sent: int = 0
    retries: int = 0
    last_error: str | None = None
    last_finalized: int | None = None
    last_evaluation: dict | None = None
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        return {
            "pool": self.pool,
            "phase": self.phase.value,
            "round": self.round,
            "rounds_finalized": self.rounds_finalized,
            "verdicts_sent": self.verdicts_sent,
            "retries": self.retries,
            "last_error": self.last_error,
            "last_finalized": self.last_finalized,
            "last_evaluation": self.last_evaluation,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class CoordinatorSettings:
    """poll: most seconds between two looks at the chain; backoff_initial /
    backoff_max: seconds before retrying a failed step (doubling, capped)."""

    poll: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class Coordinator:
    """Runs `pool`'s rounds with `aggregator` (the pool's aggregator key) until
    the pool ends. `data`: the operator's reference/validation data; `bus`:
    where it wakes from and publishes `RoundEvaluated` (optional). In a pool
    with encrypted updates the round secret keys are in `round-keys/` beside
    the journal (`client_kit.sealing.RoundKeyStore`): round 1's must be put
    there by whoever wrote the task package (`fedstake task init
    --encrypt-updates` with the same data folder)."""

    def __init__(
        self,
        chain: ChainGateway,
        store: ContentStore,
        aggregator: Keypair,
        pool: Pubkey,
        journal: Journal,
        *,
        data: OperatorData | None = None,
        bus: EventBus | None = None,
        settings: CoordinatorSettings | None = None,
    ) -> None:
        self.chain = chain
        self.store = store
        self.aggregator = aggregator
        self.pool = pool
        self.journal = journal
        self.data = data or OperatorData()
        self.bus = bus
        self.settings = settings or CoordinatorSettings()
        self.status = CoordinatorStatus(str(pool))
        self._wake = asyncio.Event()
        self._task: TaskPackage | None = None
        self.keys = RoundKeyStore(journal.path.parent / ROUND_KEYS_FOLDER)
        self._subscription: Subscription | None = None

    def wake(self) -> None:
        """Look at the chain now (e.g. after the embedded clock moved)."""
        self._wake.set()

    # --- the loop ---------------------------------------------------------
    async def run(self) -> None:
        """Follows the pool until it ends. Named errors of a step are retried
        (see the module docstring); anything else is a bug and propagates."""
        backoff = self.settings.backoff_initial
        try:
            while True:
                try:
                    wait = await self.step()
                    backoff = self.settings.backoff_initial
                    self.status.last_error = None
                except FedstakeError as exc:
                    self.status.retries += 1
                    self.status.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "round step failed, retrying in %.1f s: %s",
                        backoff,
                        self.status.last_error,
                        extra={"pool": str(self.pool), "round": self.status.round},
                    )
                    wait = backoff
                    backoff = min(backoff * 2, self.settings.backoff_max)
                self.status.updated_at = time.time()
                if wait is None:
                    return
                await self._sleep(wait)
        finally:
            if self._subscription is not None:
                self._subscription.close()
                self._subscription = None

    def _concerns(self, item: object) -> bool:
        event = getattr(item, "event", None)
        if event is not None:
            return event_field(event, "pool") == self.pool
        return getattr(item, "pool", None) == self.pool

    async def _sleep(self, seconds: float) -> None:
        """Waits `seconds`, or less if one of the pool's items reaches the bus or
        `wake()` is called; then drops what the bus queued (the next step reads
        the chain anyway)."""
        if seconds <= 0:
            return
        if self.bus is not None and self._subscription is None:
            self._subscription = self.bus.subscribe(select=self._concerns)
        waiters = [asyncio.ensure_future(self._wake.wait())]
        if self._subscription is not None:
            waiters.append(asyncio.ensure_future(self._subscription.get()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._wake.clear()
            try:
                while self._subscription is not None and self._subscription.get_nowait():
                    pass
            except SubscriberDropped:  # fell behind: the chain is read anyway
                self._subscription = None

    # --- one step -----------------------------------------------------------
    async def step(self) -> float | None:
        """Looks at the chain once and does what is due; seconds to wait before
        the next look (0: at once), or None once the pool has ended."""
        pool = await load_pool(self.chain, self.pool)
        await self._resume_finished_rounds(pool.round, pool.status)
        if pool.status is PoolStatus.OPEN:
            self.status.phase = Phase.WAITING
            return self.settings.poll
        if pool.status is not PoolStatus.TRAINING:
            self.status.phase = Phase.DONE
            log.info("pool ended (%s)", pool.status.value, extra={"pool": str(self.pool)})
            return None
        number = pool.round
        self.status.round = number
        journaled = self.journal.round(self.pool, number)
        if journaled is None:
            current = await find_round(self.chain, self.pool, number)
            if current is None:
                raise RoundMismatch(f"pool {self.pool} has no round {number}")
            now = await self.chain.unix_time()
            if now >= current.expires_at:
                self.status.phase = Phase.EXPIRED
                return self.settings.poll
            if not current.submissions_closed(now):
                self.status.phase = Phase.SUBMISSION
                return self._until(current.deadline - now)
            if not current.reveals_closed(now):
                self.status.phase = Phase.REVEAL
                return self._until(current.reveal_deadline - now)
            self.status.phase = Phase.JUDGE
            inputs = await gather_round(
                self.chain,
                self.store,
                self.pool,
                reference=self.data.reference_update,
                keys=self.keys,
            )
            decision = await asyncio.to_thread(decide_round, inputs)
            checkpoint("after_fetch")
            journaled = self.journal.decide(self.pool, decision)
            log.info(
                "round decided",
                extra={
                    "pool": str(self.pool),
                    "round": number,
                    "global_hash": decision.global_hash.hex(),
                    "verdicts": len(decision.judged),
                },
            )
        await self._complete(journaled)
        return 0.0

    def _until(self, seconds: int) -> float:
        return float(min(max(seconds, 0.05), self.settings.poll))

    async def _resume_finished_rounds(self, current: int, status: PoolStatus) -> None:
        """Journaled rounds the chain already closed (their finalize landed
        before a crash, so the pool moved on or ended): complete the journal
        and the evaluation. A round that ended unfinalized (expired) is logged."""
        for number in self.journal.unfinished(self.pool):
            if number == current and status is PoolStatus.TRAINING:
                continue  # the open round: `step` goes on with it
            journaled = self.journal.round(self.pool, number)
            state = await find_round(self.chain, self.pool, number)
            if journaled is None or state is None or not state.finalized:
                log.warning(
                    "journaled round ended without being finalized",
                    extra={"pool": str(self.pool), "round": number},
                )
                continue
            await self._complete(journaled)

    async def _complete(self, journaled: JournaledRound) -> None:
        """Steps 3–6 for a journaled round; each skips what is already done."""
        number = journaled.round
        for judged in journaled.pending:
            await self._send_verdict(number, judged)
        if not journaled.stored:
            model_cid, record_cid = await self._store(journaled)
            self.journal.stored(self.pool, number, model_cid, record_cid)
            checkpoint("after_store")
            journaled = self.journal.round(self.pool, number) or journaled
        if not journaled.finalized:
            self.status.phase = Phase.FINALIZE
            signature = await self._finalize(journaled)
            self.journal.finalized(self.pool, number, signature)
            self.status.rounds_finalized += 1
            self.status.last_finalized = number
            log.info(
                "round finalized",
                extra={
                    "pool": str(self.pool),
                    "round": number,
                    "global_hash": journaled.global_hash.hex(),
                    "signature": signature,
                },
            )
            self._publish_privacy(journaled)
        if journaled.evaluation is None:
            await self._evaluate(journaled)

    async def _send_verdict(self, number: int, judged) -> None:  # type: ignore[no-untyped-def]
        extra = {
            "pool": str(self.pool),
            "round": number,
            "wallet": str(judged.wallet),
            "verdict": judged.verdict.value,
            "reason": judged.reason.code,
            "score": judged.score_bps,
        }
        found = await find_submission(self.chain, self.pool, number, judged.wallet)
        if found is None:
            raise RoundMismatch(f"round {number}: no submission of {judged.wallet} on chain")
        if found.verdict is not Verdict.PENDING:
            self._found_on_chain(number, judged, found, extra)
            return
        try:
            tx = await operator.judge_submission(
                self.chain,
                self.aggregator,
                self.pool,
                number,
                judged.wallet,
                judged.verdict,
                judged.score_bps,
                judged.reason,
                submission_bump=found.bump,
            )
        except FedstakeProgramError:
            # it may have landed meanwhile (a send in flight before a crash)
            found = await find_submission(self.chain, self.pool, number, judged.wallet)
            if found is None or found.verdict is Verdict.PENDING:
                raise
            self._found_on_chain(number, judged, found, extra)
            return
        self.journal.verdict_sent(self.pool, number, judged.wallet, tx.signature)
        self.status.verdicts_sent += 1
        log.info("verdict sent", extra={**extra, "signature": tx.signature})
        checkpoint("after_verdict")

    def _found_on_chain(self, number, judged, found, extra) -> None:  # type: ignore[no-untyped-def]
        if (found.verdict, found.reason, found.score) != (
            judged.verdict,
            judged.reason,
            judged.score_bps,
        ):
            log.error(
                "the chain holds another verdict than the journal",
                extra={**extra, "on_chain": f"{found.verdict.value}/{int(found.reason)}"},
            )
        self.journal.verdict_sent(self.pool, number, judged.wallet, ON_CHAIN)
        log.info("verdict found on chain", extra=extra)

    async def _store(self, journaled: JournaledRound) -> tuple[str, str]:
        try:
            model_cid = await asyncio.to_thread(self.store.put, journaled.global_model)
            record_cid = await asyncio.to_thread(self.store.put, journaled.record)
        except StorageError as exc:
            raise RoundInputUnavailable(f"storing round {journaled.round}: {exc}") from exc
        if model_cid != journaled.global_cid:
            raise RoundInputUnavailable(f"the store named the global model {model_cid}")
        return model_cid, record_cid

    async def _finalize(self, journaled: JournaledRound) -> str:
        number = journaled.round
        current = await find_round(self.chain, self.pool, number)
        if current is not None and current.finalized:
            if bytes(current.global_model_hash) != journaled.global_hash:
                log.error(
                    "round finalized on chain with another global model",
                    extra={"pool": str(self.pool), "round": number},
                )
            return ON_CHAIN
        assert journaled.stored_model_cid is not None and journaled.stored_record_cid is not None
        checkpoint("before_finalize")
        done = await operator.record_finalization(
            self.chain,
            self.aggregator,
            self.pool,
            number,
            journaled.global_hash,
            journaled.stored_model_cid,
            journaled.stored_record_cid,
        )
        return done.tx.signature

    def _publish_privacy(self, journaled: JournaledRound) -> None:
        """The round's central-DP ε (from its record), logged and on the bus."""
        dp = RoundRecord.from_bytes(journaled.record).central_dp
        if dp is None:
            return
        event = RoundPrivacy(
            pool=self.pool,
            round=journaled.round,
            epsilon_round=dp.epsilon_round,
            epsilon_total=dp.epsilon_total,
            delta=dp.delta,
            noise_multiplier=dp.noise_multiplier,
            clip=dp.clip,
            accepted=dp.accepted,
        )
        log.info(
            "round privacy",
            extra={"pool": str(self.pool), "round": journaled.round, **dp.to_dict()},
        )
        if self.bus is not None:
            self.bus.publish_operator(event)

    async def _evaluate(self, journaled: JournaledRound) -> None:
        if self.data.validation is None and self.data.reference is None:
            return
        if self._task is None:
            self._task = await fetch_task(self.store, await load_pool(self.chain, self.pool))
        weights = decode_tensors(journaled.global_model)
        evaluation = await asyncio.to_thread(self.data.evaluate, self._task, weights)
        if evaluation is None:
            return
        body = {
            "accuracy": evaluation.accuracy,
            "loss": evaluation.loss,
            "samples": evaluation.samples,
        }
        self.journal.evaluated(self.pool, journaled.round, body)
        self.status.last_evaluation = {"round": journaled.round, **body}
        log.info(
            "round evaluated", extra={"pool": str(self.pool), "round": journaled.round, **body}
        )
        if self.bus is not None:
            self.bus.publish_operator(
                RoundEvaluated(
                    pool=self.pool,
                    round=journaled.round,
                    accuracy=evaluation.accuracy,
                    loss=evaluation.loss,
                    samples=evaluation.samples,
                    global_model_hash=journaled.global_hash,
                )
            )
