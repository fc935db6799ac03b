"""The operator service: one `asyncio.TaskGroup` running the chain watcher, a
round coordinator per pool and the payout relayer (`fedstake operator run`).

Which pools: `pools` (explicit addresses), else every pool of
`organization`, else every pool whose aggregator is the operator's key —
the last two re-listed every `discover` seconds, so pools created later are
picked up. Only pools this key aggregates are coordinated (another key's
verdicts would be refused on chain); pools that already ended are skipped.
With explicit pools the service stops once all of them have ended.

SIGINT / SIGTERM stop it gracefully: the task group is cancelled, the
journal and the status file are closed after the step in flight (a step
that is cut short resumes from the journal on the next start).

`<data>/status.json` is rewritten every `status_every` seconds and on exit
(`fedstake operator status` prints it); the journal is `<data>/operator.sqlite3`.
Logs are one line per event on stderr, as text or JSON lines
(`configure_logging`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool
from client_kit.actions.reads import list_pools, load_pool
from client_kit.enums import PoolStatus
from client_kit.errors import FedstakeError
from client_kit.gateway.base import ChainGateway
from client_kit.storage.base import ContentStore
from offchain.aggregator import ReferenceMissing, fetch_task
from offchain.bus import EventBus
from offchain.coordinator import Coordinator, CoordinatorSettings
from offchain.journal import Journal
from offchain.judging import needs_reference
from offchain.payout import PayoutError, PayoutRelayer, RateLimited, Relayed, Reveal
from offchain.reference import OperatorData
from offchain.watcher import Watcher

log = logging.getLogger(__name__)
STATUS_FILE = "status.json"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class NotTheAggregator(FedstakeError):
    """A pool named on the command line is aggregated by another key."""


@dataclass
class ServiceSettings:
    """What `fedstake operator run` is told (flags or `FEDSTAKE_*` variables).

    data_dir: journal and status file. pools / organization: which pools
    (see the module docstring). poll: the coordinators' longest sleep
    (seconds); discover: seconds between pool listings; status_every:
    seconds between status files; relay_rate: reveals per participant per
    minute.
    """

    data_dir: Path
    pools: list[Pubkey] = field(default_factory=list)
    organization: Pubkey | None = None
    operator_data: OperatorData = field(default_factory=OperatorData)
    poll: float = 1.0
    discover: float = 10.0
    status_every: float = 1.0
    relay_rate: float = 3.0


class ServiceStopped(PayoutError):
    """A reveal reached the service while it was not running; nothing was sent."""


class _Stop(FedstakeError):
    """Raised inside the task group to end it (a signal, or every pool ended)."""


class OperatorService:
    """The running service; `run()` until stopped. `relay(reveal)` is the
    payout relayer's entry point for callers in the same process (the API).

    `bus`: where the coordinators read chain items and publish their
    `RoundEvaluated` (default: a new one). `watcher`: a watcher that already
    feeds `bus` and is run by the caller (the API's lifespan); without it the
    service runs its own.
    """

    def __init__(
        self,
        chain: ChainGateway,
        store: ContentStore,
        operator: Keypair,
        settings: ServiceSettings,
        *,
        bus: EventBus | None = None,
        watcher: Watcher | None = None,
        max_queued: int = 1_000,
    ) -> None:
        self.chain = chain
        self.store = store
        self.operator = operator
        self.settings = settings
        self.bus = bus or EventBus()
        self.journal = Journal(settings.data_dir)
        self.relayer = PayoutRelayer(chain, operator, max_rate=settings.relay_rate)
        # a watcher of the caller's (the API's, on the same bus) is not run here:
        # two watchers on one bus would publish every account update twice
        self._own_watcher = watcher is None
        self.watcher = watcher or Watcher(chain, self.bus, pools=settings.pools or None)  # type: ignore[arg-type]
        self.coordinators: dict[Pubkey, Coordinator] = {}
        self._unjudgeable: set[Pubkey] = set()  # discovered pools it lacks reference data for
        self.started = asyncio.Event()  # set once run() is past its start-up checks
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self._group: asyncio.TaskGroup | None = None
        self._reveals: asyncio.Queue[tuple[Reveal, asyncio.Future[Relayed]]] = asyncio.Queue(
            maxsize=max_queued
        )

    def stop(self) -> None:
        """Ask the service to stop (what SIGINT/SIGTERM do)."""
        self._stop.set()

    @property
    def running(self) -> bool:
        """Whether `run()` is past its start-up checks and not yet stopped."""
        return self._group is not None

    async def relay(self, reveal: Reveal) -> Relayed:
        """Relays a payout reveal through the service's relayer task (one at a
        time, in arrival order); raises what `PayoutRelayer.relay` raises,
        `RateLimited` when `max_queued` reveals already wait, `ServiceStopped`
        when the service is not running (also for reveals still queued when
        it stops)."""
        if not self.running:
            raise ServiceStopped("the operator service is not running")
        if self._reveals.full():
            raise RateLimited(f"{self._reveals.maxsize} reveals already wait")
        answer: asyncio.Future[Relayed] = asyncio.get_running_loop().create_future()
        self._reveals.put_nowait((reveal, answer))
        return await answer

    async def _relay_loop(self) -> None:
        while True:
            reveal, answer = await self._reveals.get()
            if answer.cancelled():
                continue
            try:
                answer.set_result(await self.relayer.relay(reveal))
            except FedstakeError as exc:
                answer.set_exception(exc)

    async def run(self) -> None:
        """Runs until `stop()` or, with explicit pools, until they all ended."""
        await self._check_pools()
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self.started.set()
                if self._own_watcher:
                    group.create_task(self.watcher.run(), name="watcher")
                group.create_task(self._discover(), name="discover")
                group.create_task(self._status_loop(), name="status")
                group.create_task(self._relay_loop(), name="relayer")
                group.create_task(self._until_stopped(), name="stop")
        except* _Stop:
            pass
        finally:
            self._group = None
            while not self._reveals.empty():
                _, answer = self._reveals.get_nowait()
                if not answer.done():
                    answer.set_exception(ServiceStopped("the operator service stopped"))
            self.write_status()
            self.journal.close()
            log.info("operator stopped")

    async def _until_stopped(self) -> None:
        await self._stop.wait()
        raise _Stop

    async def _check_pools(self) -> None:
        """Refuses, before anything runs, a named pool this key doesn't
        aggregate (`NotTheAggregator`) or can't judge (`ReferenceMissing`)."""
        for key in self.settings.pools:
            pool = await load_pool(self.chain, key)
            if pool.aggregator != self.operator.pubkey():
                raise NotTheAggregator(f"pool {key} is aggregated by {pool.aggregator}")
            missing = await self._reference_missing(key, pool)
            if missing:
                raise ReferenceMissing(missing)

    async def _reference_missing(self, key: Pubkey, pool: Pool) -> str | None:
        """Why pool `key` can't be judged without reference data, if it can't:
        its rule or reward policy needs the operator's reference update and
        none was given — every round would fail and be retried until it expires."""
        if self.settings.operator_data.reference is not None:
            return None
        task = await fetch_task(self.store, pool)
        if not needs_reference(task.aggregation, pool.reward_policy):
            return None
        return (
            f"pool {key}: rule {task.aggregation.rule} with the {pool.reward_policy.value} "
            "reward policy needs the operator's reference update: pass --reference-data FILE"
        )

    async def _candidates(self) -> list[tuple[Pubkey, Pool | None]]:
        """Pools to follow, with their state when listed (named pools were
        checked by `_check_pools` and come without)."""
        if self.settings.pools:
            return [(key, None) for key in self.settings.pools]
        listed = await list_pools(self.chain, self.settings.organization)
        return [
            (key, pool)
            for key, pool in listed
            if pool.aggregator == self.operator.pubkey()
            and pool.status in (PoolStatus.OPEN, PoolStatus.TRAINING)
        ]

    async def _discover(self) -> None:
        while True:
            try:
                for key, pool in await self._candidates():
                    if key in self.coordinators or key in self._unjudgeable:
                        continue
                    missing = pool and await self._reference_missing(key, pool)
                    if missing:  # said once; the others are still followed
                        self._unjudgeable.add(key)
                        log.error("not following %s", missing, extra={"pool": str(key)})
                        continue
                    self._start(key)
            except FedstakeError as exc:
                log.warning("listing pools failed: %s", exc)
            if self.settings.pools:
                tasks = [c for c in self.coordinators.values()]
                await asyncio.gather(*(self._finished(c) for c in tasks))
                log.info("every pool ended")
                self.stop()
                return
            await asyncio.sleep(self.settings.discover)

    def _start(self, key: Pubkey) -> None:
        coordinator = Coordinator(
            self.chain,
            self.store,
            self.operator,
            key,
            self.journal,
            data=self.settings.operator_data,
            bus=self.bus,
            settings=CoordinatorSettings(poll=self.settings.poll),
        )
        self.coordinators[key] = coordinator
        assert self._group is not None
        coordinator.task = self._group.create_task(coordinator.run(), name=f"pool {key}")  # type: ignore[attr-defined]
        log.info("following pool", extra={"pool": str(key)})

    @staticmethod
    async def _finished(coordinator: Coordinator) -> None:
        await coordinator.task  # type: ignore[attr-defined]

    async def _status_loop(self) -> None:
        while True:
            self.write_status()
            await asyncio.sleep(self.settings.status_every)

    def status(self) -> dict:
        """The status snapshot (what `status.json` holds)."""
        stats = self.watcher.stats
        return {
            "pid": os.getpid(),
            "operator": str(self.operator.pubkey()),
            "started_at": self.started_at,
            "updated_at": time.time(),
            "running": self._group is not None,
            "watcher": {
                "ready": self.watcher.ready,
                "connects": stats.connects,
                "transactions": stats.transactions,
                "events": stats.events,
                "last_error": stats.last_error,
            },
            "relayer": {"relayed": self.relayer.relayed, "refused": self.relayer.refused},
            "pools": [c.status.as_dict() for c in self.coordinators.values()],
        }

    def write_status(self) -> None:
        path = self.settings.data_dir / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1, sort_keys=True))
        os.replace(tmp, path)


def read_status(data_dir: Path) -> dict | None:
    """The last status snapshot written in `data_dir`, or None."""
    try:
        return json.loads((data_dir / STATUS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


async def run_until_signalled(service: OperatorService) -> None:
    """Runs `service`, stopping it gracefully on SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.stop)
    try:
        await service.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


class _TextFormatter(logging.Formatter):
    """`time level logger: message key=value …` (the record's extra fields)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Structured logs on stderr: `text` (one readable line, extra fields as
    key=value) or `json` (JSON lines: timestamp, level, logger, message and
    every extra field)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
