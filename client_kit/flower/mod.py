"""`fedstake_mod`: the ClientApp mod that makes a Flower client a staked participant.

Added to an existing app as `ClientApp(mods=[fedstake_mod])` (or to its
`@app.train(mods=[...])`), it leaves the app's training untouched and adds
the participant's side of a fedstake round (`client_kit.flower.protocol`):

- on a `commit` train message: checks that the global model it carries is
  the one the chain records for the pool (`BaseNotOnChain` otherwise: never
  train on a model the pool did not publish), lets the app train, takes the
  update (trained − global arrays, float32), commits to the SHA-256 of its
  canonical bytes with the participant's own keypair (`submit_update`), and
  keeps the bytes in `Context.state` until the reveal;
- on a `reveal` train message: stores those bytes and reveals their CID
  (`reveal_update`), without calling the app.

Messages without fedstake's record (evaluation, an unstaked run) pass
through unchanged. Errors raised here become Flower error replies, which the
strategy treats as no commitment / no reveal (the chain then slashes a
commitment that is never revealed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable, Mod
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions import participant
from client_kit.actions.reads import load_pool
from client_kit.canonical import tensors_hash
from client_kit.enums import PoolStatus
from client_kit.errors import FedstakeError
from client_kit.flower import protocol as p
from client_kit.flower.records import only_arrays, tensors_of, update_between
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.factory import connect_gateway
from client_kit.keys import load_keypair
from client_kit.storage import open_store
from client_kit.storage.base import ContentStore


class BaseNotOnChain(FedstakeError):
    """The global model in a train message is not the pool's current global
    model on chain, or the pool's open round is not the message's round."""


class NothingToReveal(FedstakeError):
    """A reveal message for a round this node did not commit in."""


@dataclass(frozen=True)
class ParticipantLink:
    """What the mod acts with: the chain, the content store and the
    participant's wallet (the key that joined the pool and signs commitments)."""

    chain: ChainGateway
    store: ContentStore
    wallet: Keypair


Connect = Callable[[Context], AbstractAsyncContextManager[ParticipantLink]]
"""`connect(context)`: an async context manager yielding the node's link."""


def participant_keypair_path(context: Context) -> Path:
    """The node's keypair file: `fedstake-keypair`, else
    `<fedstake-keys-dir>/participant-<partition-id>.json` (simulations)."""
    configs = (context.node_config, context.run_config)
    try:
        return Path(p.setting(p.KEYPAIR, *configs)).expanduser()
    except p.FlowerProtocolError:
        folder = p.setting(p.KEYS_DIR, *configs)
        partition = context.node_config.get("partition-id")
        if partition is None:
            raise p.FlowerProtocolError(
                f"set {p.KEYPAIR!r} in the node config (or {p.KEYS_DIR!r} and a partition-id)"
            ) from None
        return Path(folder).expanduser() / f"participant-{int(partition)}.json"


@asynccontextmanager
async def connect_from_context(context: Context) -> AsyncIterator[ParticipantLink]:
    """The link the Flower context names: chain `fedstake-url`, store
    `fedstake-store`, keypair (`participant_keypair_path`). Raises
    `FlowerProtocolError` for a missing setting, the gateway's and the keys'
    errors otherwise."""
    configs = (context.node_config, context.run_config)
    wallet = load_keypair(participant_keypair_path(context))
    store = open_store(p.setting(p.STORE, *configs, default="local"))
    chain = await connect_gateway(p.setting(p.URL, *configs))
    try:
        yield ParticipantLink(chain, store, wallet)
    finally:
        await chain.close()


def _header(message: Message) -> tuple[Pubkey, int, str]:
    record = message.content.config_records.get(p.RECORD)
    if record is None:
        raise p.FlowerProtocolError(f"the message has no {p.RECORD!r} ConfigRecord")
    try:
        pool = Pubkey.from_string(str(record[p.POOL]))
        number = int(record[p.ROUND])  # type: ignore[arg-type]
        phase = str(record[p.PHASE])
    except (KeyError, ValueError, TypeError) as exc:
        raise p.FlowerProtocolError(f"malformed {p.RECORD!r} record: {exc}") from None
    if phase not in p.PHASES:
        raise p.FlowerProtocolError(f"unknown phase {phase!r}")
    return pool, number, phase


async def _check_base(link: ParticipantLink, pool: Pubkey, number: int, base_hash: bytes) -> None:
    state = await load_pool(link.chain, pool)
    if state.status is not PoolStatus.TRAINING or state.round != number:
        raise BaseNotOnChain(f"pool {pool} is {state.status}, round {state.round}, not {number}")
    if bytes(state.global_model_hash) != base_hash:
        raise BaseNotOnChain(f"the global model sent for round {number} is not the pool's")


def _num_samples(reply: Message, key: str) -> int:
    for record in reply.content.metric_records.values():
        if key in record:
            value = record[key]
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return int(value)
    raise p.FlowerProtocolError(f"the train reply has no MetricRecord entry {key!r}")


def make_fedstake_mod(connect: Connect = connect_from_context) -> Mod:
    """The mod, acting through the links `connect` yields (default: from the
    Flower context's settings). See the module docstring."""

    def fedstake_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        is_train = message.metadata.message_type.split(".")[0] == "train"
        if not is_train or p.RECORD not in message.content.config_records:
            return call_next(message, context)
        pool, number, phase = _header(message)
        if phase == p.REVEAL:
            return asyncio.run(_reveal(connect, message, context, pool, number))
        weight_key = str(
            message.content.config_records[p.RECORD].get(p.WEIGHT_KEY, p.DEFAULT_WEIGHT_KEY)
        )
        base = tensors_of(only_arrays(message.content, "the train message"))

        async def check() -> None:
            async with connect(context) as link:
                await _check_base(link, pool, number, tensors_hash(base))

        asyncio.run(check())
        reply = call_next(message, context)
        if reply.has_error():
            return reply
        update = participant.prepare_update(
            update_between(base, tensors_of(only_arrays(reply.content, "the train reply")))
        )
        num_samples = _num_samples(reply, weight_key)

        async def commit() -> Pubkey:
            async with connect(context) as link:
                await participant.submit_update(link.chain, link.wallet, pool, update, num_samples)
                return link.wallet.pubkey()

        wallet = asyncio.run(commit())
        context.state[p.STATE] = ConfigRecord(
            {
                p.POOL: str(pool),
                p.ROUND: number,
                p.UPDATE: update.data,
                p.UPDATE_HASH: update.update_hash,
            }
        )
        reply.content[p.RECORD] = ConfigRecord(
            {p.POOL: str(pool), p.ROUND: number, p.WALLET: str(wallet)}
        )
        return reply

    return fedstake_mod


async def _reveal(
    connect: Connect, message: Message, context: Context, pool: Pubkey, number: int
) -> Message:
    kept = context.state.config_records.get(p.STATE)
    if kept is None or kept.get(p.POOL) != str(pool) or kept.get(p.ROUND) != number:
        raise NothingToReveal(f"this node did not commit in round {number} of pool {pool}")
    update = participant.PreparedUpdate(bytes(kept[p.UPDATE]), bytes(kept[p.UPDATE_HASH]))  # type: ignore[arg-type]
    async with connect(context) as link:
        revealed = await participant.reveal_update(
            link.chain, link.store, link.wallet, pool, update
        )
        wallet = link.wallet.pubkey()
    del context.state[p.STATE]
    answer = {p.POOL: str(pool), p.ROUND: number, p.WALLET: str(wallet), p.CID: revealed.update_cid}
    return Message(RecordDict({p.RECORD: ConfigRecord(answer)}), reply_to=message)


fedstake_mod: Mod = make_fedstake_mod()
"""The mod with its settings from the Flower context (`connect_from_context`)."""
