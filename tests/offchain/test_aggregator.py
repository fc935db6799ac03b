"""The aggregator's round: fetch by CID, verify against the chain, judge, finalize."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission, decode_account
from client_kit.canonical import decode_tensors, encode_tensors
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions, PoolParams
from client_kit.storage.errors import StoreUnavailable
from client_kit.storage.local import LocalStore
from offchain.aggregation import make_rule
from offchain.aggregator import RoundNotReady, judge_round

SOL = 1_000_000_000
BASE = {"w": np.zeros((3, 2), np.float32)}


@dataclass
class RoundSetup:
    chain: EmbeddedGateway
    store: LocalStore
    ix: FedstakeInstructions
    aggregator: Keypair
    pool: Pubkey
    params: PoolParams

    async def commit(self, kp: Keypair, update_hash: bytes) -> None:
        await self.chain.send(
            [
                self.ix.submit_update(
                    kp.pubkey(),
                    self.pool,
                    1,
                    update_hash=update_hash,
                    num_samples=10,
                    base_model_hash=self.params.initial_model_hash,
                )
            ],
            [kp],
        )

    async def reveal(self, kp: Keypair, data: bytes) -> None:
        cid = self.store.put(data)  # uploaded only at reveal time
        await self.chain.send([self.ix.reveal_update(kp.pubkey(), self.pool, 1, cid)], [kp])

    async def submission(self, kp: Keypair) -> Submission:
        info = await self.chain.get_account(self.ix.submission(self.pool, 1, kp.pubkey()))
        return decode_account(Submission, info.data)

    async def participant(self, kp: Keypair) -> Participant:
        info = await self.chain.get_account(self.ix.participant(self.pool, kp.pubkey()))
        return decode_account(Participant, info.data)

    async def round(self) -> Round:
        return decode_account(
            Round, (await self.chain.get_account(self.ix.round(self.pool, 1))).data
        )


async def _pool_with(store: LocalStore, trainers: int) -> tuple[RoundSetup, list[Keypair]]:
    chain = EmbeddedGateway()
    ix = FedstakeInstructions(chain.program_id)
    org, agg = Keypair(), Keypair()
    for key in (org.pubkey(), agg.pubkey()):
        await chain.airdrop(key, 10 * SOL)
    base_bytes = encode_tensors(BASE)
    params = PoolParams(
        pool_id=1,
        aggregator=agg.pubkey(),
        task_cid="bafkreitask",
        initial_model_hash=hashlib.sha256(base_bytes).digest(),
        initial_model_cid=store.put(base_bytes),
        max_rounds=1,
        round_duration=60,
        join_deadline=await chain.unix_time() + 60,
        min_stake=SOL // 10,
        max_participants=8,
        reward_per_round=SOL,
        slash_bps=5_000,
    )
    pool = ix.pool(org.pubkey(), 1)
    await chain.send([ix.create_pool(org.pubkey(), params)], [org])
    await chain.send([ix.fund_pool(org.pubkey(), pool, SOL)], [org])
    wallets = [Keypair() for _ in range(trainers)]
    for kp in wallets:
        await chain.airdrop(kp.pubkey(), 2 * SOL)
        await chain.send([ix.join_pool(kp.pubkey(), pool, SOL // 2, b"\x01" * 32)], [kp])
    await chain.send([ix.start_training(org.pubkey(), pool)], [org])
    return RoundSetup(chain, store, ix, agg, pool, params), wallets


def _bytes(value: float) -> bytes:
    return encode_tensors({"w": np.full((3, 2), value, np.float32)})


async def test_objective_faults_are_slashed_and_doubts_only_excluded(tmp_path) -> None:
    # Given a round where everyone committed and revealed: two honest updates,
    # a swapped one, garbage bytes, non-finite values and a free-rider
    s, (honest, honest2, swapper, garbler, nan, idle) = await _pool_with(
        LocalStore(tmp_path / "store"), 6
    )
    revealed = {
        honest: _bytes(0.1),
        honest2: _bytes(0.3),
        swapper: _bytes(9.0),
        garbler: b"not tensors at all",
        nan: _bytes(float("nan")),
        idle: _bytes(0.0),
    }
    committed = dict(revealed)
    committed[swapper] = b"something else"  # commits to other bytes than it reveals
    for kp, data in committed.items():
        await s.commit(kp, hashlib.sha256(data).digest())
    for kp, data in revealed.items():
        await s.reveal(kp, data)

    # When the aggregator judges the round (everyone revealed: no need to wait)
    outcome = await judge_round(
        s.chain, s.store, s.aggregator, s.pool, rule=make_rule("fedavg"), base=BASE
    )

    # Then objective faults are slashed with their reason, the free-rider only excluded
    verdicts = {j.wallet: (j.verdict.name, j.reason) for j in outcome.judged}
    assert verdicts[swapper.pubkey()] == ("SLASHED", "hash_mismatch")
    assert verdicts[garbler.pubkey()] == ("SLASHED", "malformed")
    assert verdicts[nan.pubkey()] == ("SLASHED", "non_finite")
    assert verdicts[idle.pubkey()] == ("EXCLUDED", "free_rider")
    assert verdicts[honest.pubkey()][0] == verdicts[honest2.pubkey()][0] == "ACCEPTED"
    swapped = await s.submission(swapper)
    assert swapped.verdict == "Slashed" and swapped.reason == 1 and swapped.slashed == SOL // 4
    excluded = await s.participant(idle)
    assert excluded.stake == SOL // 2 and excluded.status == "Active"
    assert excluded.excluded_count == 1 and excluded.slashed_count == 0
    # and the chain holds the stored model's hash
    state = decode_account(Pool, (await s.chain.get_account(s.pool)).data)
    assert state.status == "Finished" and state.global_model_hash == outcome.global_hash
    stored = s.store.get(outcome.global_cid)
    assert hashlib.sha256(stored).digest() == outcome.global_hash
    np.testing.assert_allclose(decode_tensors(stored)["w"], 0.2, rtol=1e-6)


class _DownStore(LocalStore):
    """A store whose reads fail as an unreachable IPFS node's would."""

    def get(self, cid, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise StoreUnavailable(f"{cid}: node unreachable")


async def test_store_outage_raises_and_judges_nobody(tmp_path) -> None:
    # Given two honest, revealed updates and a store whose reads fail
    s, wallets = await _pool_with(_DownStore(tmp_path / "store"), 2)
    updates = {kp: _bytes(value) for kp, value in zip(wallets, (0.1, 0.3), strict=True)}
    for kp, data in updates.items():
        await s.commit(kp, hashlib.sha256(data).digest())
    for kp, data in updates.items():
        await s.reveal(kp, data)
    # When the aggregator tries to judge, Then it raises and sends nothing
    with pytest.raises(StoreUnavailable):
        await judge_round(
            s.chain, s.store, s.aggregator, s.pool, rule=make_rule("fedavg"), base=BASE
        )
    for kp in wallets:
        assert (await s.submission(kp)).verdict == "Pending"
        assert (await s.participant(kp)).stake == SOL // 2
    assert (await s.round()).judged_count == 0


async def test_unrevealed_commitment_waits_for_the_reveal_deadline_then_is_slashed(
    tmp_path,
) -> None:
    s, (revealer, silent) = await _pool_with(LocalStore(tmp_path / "store"), 2)
    data = _bytes(0.2)
    await s.commit(revealer, hashlib.sha256(data).digest())
    await s.commit(silent, hashlib.sha256(_bytes(0.4)).digest())
    await s.reveal(revealer, data)
    rule = make_rule("fedavg")
    with pytest.raises(RoundNotReady):
        await judge_round(s.chain, s.store, s.aggregator, s.pool, rule=rule, base=BASE)
    assert (await s.round()).judged_count == 0
    s.chain.set_time((await s.round()).reveal_deadline)
    outcome = await judge_round(s.chain, s.store, s.aggregator, s.pool, rule=rule, base=BASE)
    verdicts = {j.wallet: (j.verdict.name, j.reason) for j in outcome.judged}
    assert verdicts[silent.pubkey()] == ("SLASHED", "not_revealed")
    assert verdicts[revealer.pubkey()][0] == "ACCEPTED"
    assert (await s.participant(silent)).stake == SOL // 4
