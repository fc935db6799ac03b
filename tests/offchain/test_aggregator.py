"""The aggregator's round: fetch by CID, verify against the chain, judge, finalize."""

from __future__ import annotations

import hashlib

import numpy as np
from solders.keypair import Keypair

from client_kit.accounts import Pool, Submission, decode_account
from client_kit.canonical import decode_tensors, encode_tensors
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions, PoolParams
from client_kit.storage.local import LocalStore
from offchain.aggregation import make_rule
from offchain.aggregator import judge_round

SOL = 1_000_000_000


async def test_round_rejects_hash_mismatch_and_malformed_bytes(tmp_path) -> None:
    # Given a pool in round 1 with four submissions
    chain, store = EmbeddedGateway(), LocalStore(tmp_path / "store")
    ix = FedstakeInstructions(chain.program_id)
    org, agg = Keypair(), Keypair()
    for key in (org.pubkey(), agg.pubkey()):
        await chain.airdrop(key, 10 * SOL)
    base = {"w": np.zeros((3, 2), np.float32)}
    base_bytes = encode_tensors(base)
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
        max_participants=5,
        reward_per_round=SOL,
        slash_bps=5_000,
    )
    pool = ix.pool(org.pubkey(), 1)
    await chain.send([ix.create_pool(org.pubkey(), params)], [org])
    await chain.send([ix.fund_pool(org.pubkey(), pool, SOL)], [org])
    honest, honest2, swapper, garbler = (Keypair() for _ in range(4))
    for kp in (honest, honest2, swapper, garbler):
        await chain.airdrop(kp.pubkey(), 2 * SOL)
        await chain.send([ix.join_pool(kp.pubkey(), pool, SOL // 2, b"\x01" * 32)], [kp])
    await chain.send([ix.start_training(org.pubkey(), pool)], [org])

    def submit_bytes(data: bytes, claimed_hash: bytes):
        cid = store.put(data)
        return cid, claimed_hash

    updates = {
        honest: encode_tensors({"w": np.full((3, 2), 0.1, np.float32)}),
        honest2: encode_tensors({"w": np.full((3, 2), 0.3, np.float32)}),
    }
    plans = {kp: submit_bytes(data, hashlib.sha256(data).digest()) for kp, data in updates.items()}
    # swapper records the hash of one update but stores different bytes
    plans[swapper] = submit_bytes(
        encode_tensors({"w": np.full((3, 2), 9.0, np.float32)}),
        hashlib.sha256(b"something else").digest(),
    )
    garbage = b"not tensors at all"
    plans[garbler] = submit_bytes(garbage, hashlib.sha256(garbage).digest())
    for kp, (cid, update_hash) in plans.items():
        await chain.send(
            [
                ix.submit_update(
                    kp.pubkey(),
                    pool,
                    1,
                    update_hash=update_hash,
                    update_cid=cid,
                    num_samples=10,
                    base_model_hash=params.initial_model_hash,
                )
            ],
            [kp],
        )

    # When the aggregator judges the round (everyone submitted: no need to wait)
    outcome = await judge_round(chain, store, agg, pool, rule=make_rule("fedavg"), base=base)

    # Then the verdicts follow the bytes, and the chain holds the stored model's hash
    verdicts = {j.wallet: (j.accepted, j.reason) for j in outcome.judged}
    assert verdicts[swapper.pubkey()] == (False, "hash_mismatch")
    assert verdicts[garbler.pubkey()] == (False, "malformed")
    assert verdicts[honest.pubkey()][0] and verdicts[honest2.pubkey()][0]
    state = decode_account(Pool, (await chain.get_account(pool)).data)
    assert state.status == "Finished" and state.global_model_hash == outcome.global_hash
    stored = store.get(outcome.global_cid)
    assert hashlib.sha256(stored).digest() == outcome.global_hash
    np.testing.assert_allclose(decode_tensors(stored)["w"], 0.2, rtol=1e-6)
    swapped = decode_account(
        Submission, (await chain.get_account(ix.submission(pool, 1, swapper.pubkey()))).data
    )
    assert swapped.verdict == "Rejected" and swapped.reason == 1 and swapped.slashed == SOL // 4
