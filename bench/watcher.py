"""Events per second through the watcher and the bus, against the raw gateway
notification rate measured in the same run.

Embedded chain (`PoolFunded` events, one per `fund_pool` transaction):

* end to end: N transactions sent one after another through `EmbeddedGateway`;
  baseline = the same sends with only a bare listener that decodes each
  transaction's events (the gateway's own notification rate); measured = the
  watcher publishing to the bus and one subscriber reading everything;
* pipeline only: the N captured notifications replayed into the watcher's
  listener (no SVM), with 1 and with 10 subscribers; baseline = decoding the
  same notifications' events.

Surfpool (scripts/validator, a real validator):

* live: N transactions sent as fast as the node takes them; baseline = a bare
  `logsSubscribe` websocket decoding events (raw notifications), measured = the
  watcher + bus + one subscriber, both following the same burst at once. Rate
  = N / (last event received - first send);
* catch-up: the watcher is stopped, N transactions land, the same watcher is
  run again: its backfill rate (`getSignaturesForAddress` + `getTransaction`)
  against the live raw notification rate.

Prints Markdown. Run: `.venv/bin/python bench/watcher.py [--embedded N]
[--surfpool N]` (defaults 2000 and 400; `--surfpool 0` skips Surfpool).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from client_kit.accounts import ACCOUNT_TYPES, account_kind, decode_account
from client_kit.actions import organization
from client_kit.actions.reads import instructions
from client_kit.events import events_from_logs
from client_kit.gateway.base import ChainGateway, LandedTransaction
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.rpc import LogsNotice, RpcGateway
from client_kit.idl import load_idl
from client_kit.program import program_path
from client_kit.storage.local import LocalStore
from client_kit.training.spec import mlp_spec
from client_kit.training.task import TaskPackage, TrainingConfig
from offchain.bus import ChainEvent, EventBus, Subscription
from offchain.watcher import Watcher

SOL = 1_000_000_000
TERMS = organization.PoolTerms(
    reward_per_round=SOL,
    max_rounds=1,
    round_duration=600,
    join_window=3_600,
    min_stake=SOL // 10,
    max_participants=5,
    slash_bps=5_000,
)


async def new_pool(chain: ChainGateway) -> tuple[Keypair, Pubkey]:
    """A funded organization and its new pool (a tiny task, a throwaway store)."""
    owner = Keypair()
    await chain.airdrop(owner.pubkey(), 200 * SOL)
    store = LocalStore(Path(tempfile.mkdtemp(prefix="fedstake-bench-store-")))
    task = TaskPackage.create("tiny", "", mlp_spec(3, [], 2), TrainingConfig(), seed=0)
    created = await organization.create_pool(chain, store, owner, task, TERMS)
    return owner, created.pool


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def drain_events(subscription: Subscription, want: int) -> float:
    """Reads until `want` PoolFunded events arrived; the monotonic time then."""
    seen = 0
    while seen < want:
        item = await subscription.get()
        if isinstance(item, ChainEvent) and item.name == "PoolFunded":
            seen += 1
    return time.monotonic()


# --- embedded ----------------------------------------------------------------
async def embedded_sends(n: int, watch: bool) -> tuple[float, list[LandedTransaction]]:
    """Events/s for n fund_pool sends on a fresh embedded chain: with a bare
    listener decoding events (watch=False), or with the watcher, the bus and one
    subscriber reading everything; and the captured notifications."""
    chain = EmbeddedGateway()
    owner, pool = await new_pool(chain)
    captured: list[LandedTransaction] = []
    decoded = 0

    def bare(landed: LandedTransaction) -> None:
        nonlocal decoded
        decoded += len(events_from_logs(list(landed.logs)))
        captured.append(landed)

    task = reader = None
    if watch:
        bus = EventBus(queue_size=n + 10)
        watcher = Watcher(chain, bus)
        task = asyncio.create_task(watcher.run())
        await watcher.wait_ready()
        reader = asyncio.create_task(drain_events(bus.subscribe(), n))
    else:
        chain.add_listener(bare)
    t0 = time.monotonic()
    for amount in range(1, n + 1):
        await organization.fund_pool(chain, owner, pool, amount)
        if amount % 64 == 0:
            await asyncio.sleep(0)  # let the subscriber read, as a real one would
    done = await reader if reader is not None else time.monotonic()
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return rate(n, done - t0), captured


async def embedded_end_to_end(n: int) -> tuple[float, float, list[LandedTransaction]]:
    """(baseline events/s, watcher events/s, captured notifications): best of 3,
    the two alternating so both see the same machine load."""
    base = watched = 0.0
    captured: list[LandedTransaction] = []
    for _ in range(3):
        rate_bare, captured = await embedded_sends(n, watch=False)
        rate_watched, _ = await embedded_sends(n, watch=True)
        base, watched = max(base, rate_bare), max(watched, rate_watched)
    return base, watched, [c for c in captured if c.logs]


def decode_all(captured: list[LandedTransaction]) -> None:
    """What any consumer of the notifications must do: events and typed accounts."""
    for landed in captured:
        events_from_logs(list(landed.logs))
        for change in landed.changes:
            if change.info is not None and (kind := account_kind(change.info.data)):
                decode_account(ACCOUNT_TYPES[kind], change.info.data)


async def embedded_pipeline(
    captured: list[LandedTransaction], subscribers: int
) -> tuple[float, float, float]:
    """Events/s on replayed notifications (no SVM): decoding events only,
    decoding events and accounts, and the watcher + bus with every subscriber
    reading everything. Best of 3."""
    events = sum(len(events_from_logs(list(c.logs))) for c in captured)
    best = {"events": float("inf"), "all": float("inf"), "watcher": float("inf")}
    for _ in range(3):
        t0 = time.perf_counter()
        for landed in captured:
            events_from_logs(list(landed.logs))
        best["events"] = min(best["events"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        decode_all(captured)
        best["all"] = min(best["all"], time.perf_counter() - t0)

        chain = EmbeddedGateway()
        bus = EventBus(queue_size=len(captured) * 4 + 10, retention=len(captured) * 4 + 10)
        watcher = Watcher(chain, bus)
        task = asyncio.create_task(watcher.run())
        await watcher.wait_ready()
        subs = [bus.subscribe() for _ in range(subscribers)]
        t0 = time.perf_counter()
        for landed in captured:
            chain._notify(landed)  # the gateway's own fan-out to its listeners
        for subscription in subs:
            while subscription.get_nowait() is not None:
                pass
        best["watcher"] = min(best["watcher"], time.perf_counter() - t0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return rate(events, best["events"]), rate(events, best["all"]), rate(events, best["watcher"])


# --- Surfpool --------------------------------------------------------------------
async def send_burst(chain: RpcGateway, payer: Keypair, pool: Pubkey, amounts: range) -> float:
    """Sends one fund_pool per amount without waiting for confirmations (the
    actions confirm each transaction: too slow to load the node); the monotonic
    time of the first send."""
    latest = (await chain.client.get_latest_blockhash()).value.blockhash
    ix = instructions(chain)
    txs = [
        VersionedTransaction(
            MessageV0.try_compile(
                payer.pubkey(), [ix.fund_pool(payer.pubkey(), pool, amount)], [], latest
            ),
            [payer],
        )
        for amount in amounts
    ]
    opts = TxOpts(skip_confirmation=True, skip_preflight=True)
    t0 = time.monotonic()
    for start in range(0, len(txs), 32):
        await asyncio.gather(
            *[chain.client.send_transaction(tx, opts) for tx in txs[start : start + 32]]
        )
    return t0


async def raw_logs_until(chain: RpcGateway, want: int, ready: asyncio.Event) -> float:
    """A bare logsSubscribe stream decoding events; time of the `want`-th."""
    stream = await chain.open_stream([], logs=True)
    ready.set()
    seen = 0
    try:
        while seen < want:
            note = await stream.recv()
            if isinstance(note, LogsNotice):
                seen += sum(
                    1 for e in events_from_logs(list(note.logs), chain.program_id)
                    if e.name == "PoolFunded"
                )  # fmt: skip
        return time.monotonic()
    finally:
        await stream.close()


async def surfpool(n: int) -> dict[str, float]:
    from scripts.validator import launcher

    reason = launcher.unavailable_reason()
    if reason:
        raise SystemExit(f"Surfpool unavailable: {reason}")
    program = load_idl().address
    with program_path() as so_path:
        rpc_url, ws_url, stop = launcher.start_validator(so_path, str(program))
    out: dict[str, float] = {}
    try:
        sender = RpcGateway(rpc_url, ws_url, program_id=program)
        raw = RpcGateway(rpc_url, ws_url, program_id=program)
        watched = RpcGateway(rpc_url, ws_url, program_id=program)
        owner, pool = await new_pool(sender)
        bus = EventBus(queue_size=4 * n + 10, retention=8 * n + 10)
        watcher = Watcher(watched, bus, fetch_concurrency=16)
        task = asyncio.create_task(watcher.run())
        await watcher.wait_ready(30)

        # live: both follow the same burst
        subscription = bus.subscribe()
        raw_ready = asyncio.Event()
        raw_task = asyncio.create_task(raw_logs_until(raw, n, raw_ready))
        await raw_ready.wait()
        watch_task = asyncio.create_task(drain_events(subscription, n))
        t0 = await send_burst(sender, owner, pool, range(1, n + 1))
        raw_done, watch_done = await asyncio.wait_for(asyncio.gather(raw_task, watch_task), 300)
        out["live_raw"] = rate(n, raw_done - t0)
        out["live_watcher"] = rate(n, watch_done - t0)
        out["live_lag_s"] = watch_done - raw_done
        sequenced_before = watcher.stats.transactions

        # catch-up: the watcher is away while n transactions land
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        subscription = bus.subscribe()
        raw_ready = asyncio.Event()
        raw_task = asyncio.create_task(raw_logs_until(raw, n, raw_ready))
        await raw_ready.wait()
        t0 = await send_burst(sender, owner, pool, range(n + 1, 2 * n + 1))
        await raw_task
        t1 = time.monotonic()
        task = asyncio.create_task(watcher.run())
        done = await asyncio.wait_for(drain_events(subscription, n), 300)
        out["catch_up_watcher"] = rate(n, done - t1)
        out["catch_up_raw_live"] = rate(n, t1 - t0)
        out["sequenced"] = watcher.stats.transactions - sequenced_before
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for gateway in (sender, raw, watched):
            await gateway.close()
        out["surfpool_version"] = stop.info.get("surfpool_version", "?")  # type: ignore[assignment]
    finally:
        stop()
    return out


def table(rows: list[tuple[str, float, float]], baseline: str) -> str:
    lines = [
        f"| measurement | {baseline} (events/s) | watcher + bus (events/s) | ratio |",
        "|---|---|---|---|",
    ]
    for name, base, measured in rows:
        lines.append(f"| {name} | {base:,.0f} | {measured:,.0f} | **{measured / base:.2f}×** |")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded", type=int, default=2_000, help="transactions (0: skip)")
    parser.add_argument("--surfpool", type=int, default=400, help="transactions (0: skip)")
    args = parser.parse_args(argv)
    say: Callable[[str], None] = print
    say("# Watcher throughput (bench/watcher.py)\n")
    say(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}. Events are `PoolFunded`, one per `fund_pool`.\n"
    )
    if args.embedded:
        base, measured, captured = await embedded_end_to_end(args.embedded)
        rows = [(f"{args.embedded} transactions sent", base, measured)]
        pipeline_rows = []
        for subscribers in (1, 10):
            events_only, decoded, pipeline = await embedded_pipeline(captured, subscribers)
            rows.append((f"replayed, {subscribers} subscriber(s)", events_only, pipeline))
            pipeline_rows.append((f"replayed, {subscribers} subscriber(s)", decoded, pipeline))
        say("## Embedded chain\n")
        say(
            "Baseline: the gateway's own notifications to a bare listener that decodes the "
            "events (first row: the transactions are sent through LiteSVM; replayed rows: "
            f"the {len(captured)} captured notifications fed again, no SVM).\n"
        )
        say(table(rows, "raw notifications, events decoded") + "\n")
        say(
            "Same replay against a baseline that also decodes every changed account to its "
            "typed dataclass (work any consumer of the notifications does); the ratio is "
            "the cost of ordering, dedup, fan-out and the subscribers' reads:\n"
        )
        say(table(pipeline_rows, "events + typed accounts decoded") + "\n")
    if args.surfpool:
        out = await surfpool(args.surfpool)
        say(f"## Surfpool {out['surfpool_version']}\n")
        say(
            "Baseline: a bare `logsSubscribe` websocket decoding events, following the "
            "same transactions in the same run.\n"
        )
        rows = [
            (f"live, {args.surfpool} transactions", out["live_raw"], out["live_watcher"]),
            (
                f"catch-up of {args.surfpool} after an outage (vs live raw)",
                out["catch_up_raw_live"],
                out["catch_up_watcher"],
            ),
        ]
        say(table(rows, "raw logsSubscribe") + "\n")
        say(
            f"Live: the watcher's last event came {out['live_lag_s']:.2f} s after the raw "
            "stream's (it waits for each slot to be sealed: one 400 ms slot, plus a "
            "`getTransaction` per transaction).\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
