"""The payout relayer: turns hashed-wallet reveals into `claim_reward` transactions.

A participant (or anyone holding its payout secret) sends a `Reveal`: the
pool, the participant's wallet, the payout wallet it committed to and the
salt. The relayer pays the fee, so it checks everything it can before
sending anything (docs/PROTOCOL.md, `claim_reward`):

1. the participant is not over its rate (`RateLimited`; aiolimiter's leaky
   bucket per (pool, participant), so one participant cannot make it spend
   fees or RPC calls in a loop);
2. the pool exists (`UnknownPool`) and the participant account exists
   (`UnknownParticipant`);
3. sha256(payout_wallet ‖ salt) equals its on-chain `payout_commitment`
   (`WrongSalt`);
4. something is unpaid: `AlreadyClaimed` when everything accrued was paid
   (a repeated reveal: nothing is sent), `NothingToClaim` when nothing was
   ever accrued;

then sends `claim_reward` through `client_kit.actions.participant` and
answers with the amount and the signature. Reveals of one participant are
handled one at a time, so a repeated reveal sees the first one's result.

The salt is never logged, never in an exception message, never in a repr:
whoever has it can redirect nothing (the funds only reach the committed
wallet), but it unlinks the payout wallet from the trainer's key.

The API's `/ws/payout` calls `PayoutRelayer.relay`; `fedstake operator
relay-claim` does the same from the command line.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import AccountDecodeError, Pool
from client_kit.actions import participant as participant_actions
from client_kit.actions.reads import find_account, find_participant
from client_kit.errors import FedstakeError
from client_kit.gateway.base import ChainGateway
from client_kit.keys import SALT_LEN, PayoutSecret, payout_commitment

log = logging.getLogger(__name__)


class PayoutError(FedstakeError):
    """A reveal the relayer refuses; nothing was sent."""


class InvalidReveal(PayoutError, ValueError):
    """A reveal whose fields are not well formed (e.g. a salt that is not 32 bytes)."""


class UnknownPool(PayoutError):
    """No pool account at this address."""


class UnknownParticipant(PayoutError):
    """No participant account of this wallet in this pool (never joined, or closed)."""


class WrongSalt(PayoutError):
    """sha256(payout_wallet ‖ salt) is not the participant's payout commitment."""


class AlreadyClaimed(PayoutError):
    """Everything the participant earned has been paid: nothing to send."""


class NothingToClaim(PayoutError):
    """The participant has not earned any reward (yet)."""


class RateLimited(PayoutError):
    """Too many reveals for this participant; try again later."""


@dataclass(frozen=True)
class Reveal:
    """A hashed-wallet reveal: `participant` is the trainer's wallet (the key it
    joined with), `salt` the 32 bytes behind its commitment (never printed)."""

    pool: Pubkey
    participant: Pubkey
    payout_wallet: Pubkey
    salt: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.salt, bytes) or len(self.salt) != SALT_LEN:
            raise InvalidReveal(f"the salt must be {SALT_LEN} bytes")


@dataclass(frozen=True)
class Relayed:
    """A sent claim: lamports paid to `payout_wallet` and the transaction signature."""

    pool: Pubkey
    participant: Pubkey
    payout_wallet: Pubkey
    amount: int
    signature: str


class PayoutRelayer:
    """Relays reveals for any pool, paying fees from `relayer`.

    Rate: at most `max_rate` reveals per participant per `time_period`
    seconds (a leaky bucket: `aiolimiter.AsyncLimiter`); buckets of the
    `max_tracked` most recent participants are kept.
    """

    def __init__(
        self,
        chain: ChainGateway,
        relayer: Keypair,
        *,
        max_rate: float = 3,
        time_period: float = 60.0,
        max_tracked: int = 10_000,
    ) -> None:
        self.chain = chain
        self.relayer = relayer
        self.max_rate = max_rate
        self.time_period = time_period
        self.max_tracked = max_tracked
        self._limiters: OrderedDict[tuple[Pubkey, Pubkey], AsyncLimiter] = OrderedDict()
        self._locks: dict[tuple[Pubkey, Pubkey], asyncio.Lock] = {}
        self.relayed = 0
        self.refused = 0

    def _limiter(self, key: tuple[Pubkey, Pubkey]) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = AsyncLimiter(self.max_rate, self.time_period)
            self._limiters[key] = limiter
            while len(self._limiters) > self.max_tracked:
                old, _ = self._limiters.popitem(last=False)
                self._locks.pop(old, None)
        else:
            self._limiters.move_to_end(key)
        return limiter

    async def relay(self, reveal: Reveal) -> Relayed:
        """Checks `reveal` and sends `claim_reward` (see the module docstring).

        Raises `RateLimited`, `UnknownPool`, `UnknownParticipant`, `WrongSalt`,
        `AlreadyClaimed`, `NothingToClaim` before sending anything; then the
        chain's errors (`FedstakeProgramError`, e.g. a payout wallet that
        cannot receive)."""
        key = (reveal.pool, reveal.participant)
        where = {"pool": str(reveal.pool), "participant": str(reveal.participant)}
        limiter = self._limiter(key)
        if not limiter.has_capacity():
            self.refused += 1
            log.info("reveal refused: rate limited", extra=where)
            raise RateLimited(
                f"at most {self.max_rate:g} reveals per {self.time_period:g} s per participant"
            )
        await limiter.acquire()
        async with self._locks.setdefault(key, asyncio.Lock()):
            try:
                await self._check(reveal)
            except PayoutError as exc:
                self.refused += 1
                log.info("reveal refused: %s", type(exc).__name__, extra=where)
                raise
            secret = PayoutSecret(
                reveal.pool, reveal.participant, reveal.payout_wallet, reveal.salt
            )
            claimed = await participant_actions.claim_reward(
                self.chain, self.relayer, reveal.pool, secret
            )
        self.relayed += 1
        log.info(
            "reward relayed",
            extra={
                **where,
                "payout_wallet": str(reveal.payout_wallet),
                "amount": claimed.paid,
                "signature": claimed.tx.signature,
            },
        )
        return Relayed(
            reveal.pool,
            reveal.participant,
            reveal.payout_wallet,
            claimed.paid,
            claimed.tx.signature,
        )

    async def _check(self, reveal: Reveal) -> int:
        """The unpaid reward (lamports) the reveal would claim; the named errors otherwise."""
        state = await find_participant(self.chain, reveal.pool, reveal.participant)
        if state is None:
            if not await self._pool_exists(reveal.pool):
                raise UnknownPool(f"no pool {reveal.pool}")
            raise UnknownParticipant(f"{reveal.participant} is not a participant of {reveal.pool}")
        if payout_commitment(reveal.payout_wallet, reveal.salt) != bytes(state.payout_commitment):
            raise WrongSalt("the payout wallet and salt do not open the participant's commitment")
        unpaid = state.reward_accrued - state.reward_paid
        if unpaid <= 0:
            if state.reward_paid > 0:
                raise AlreadyClaimed(f"{reveal.participant}'s reward was already claimed")
            raise NothingToClaim(f"{reveal.participant} has no reward to claim")
        return unpaid

    async def _pool_exists(self, key: Pubkey) -> bool:
        try:
            return await find_account(self.chain, Pool, key) is not None
        except AccountDecodeError:  # another of the program's accounts
            return False
