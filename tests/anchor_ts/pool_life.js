#!/usr/bin/env node
// fedstake through Anchor's own TypeScript client (@coral-xyz/anchor), against a
// local validator with the program deployed. Run by tests/outside_clients/test_anchor_ts.py:
//
//   ANCHOR_PROVIDER_URL=http://127.0.0.1:8899 ANCHOR_WALLET=payer.json \
//     node pool_life.js IDL.json REPORT.json
//
// Everything goes through `program.methods.<ix>(...args).accounts({...}).rpc()`,
// passing only the accounts Anchor cannot resolve from the IDL's `pda.seeds`,
// `relations`, signers (the provider's wallet) and fixed addresses. Arguments
// are given by IDL name and put in the IDL's order, so an instruction that gains
// an argument needs one more entry here, nothing else.
//
// Pool 1 lives a whole life (create → close, the happy path); every account
// type is fetched and decoded, every event parsed from the transactions' logs.
// Pool 2 collects one refused call of each kind (signer, relation, status,
// deadline), each of which must surface as `AnchorError` with the IDL's name
// and number, then expires through Surfpool's time travel; pools 3 and 4 take
// the remaining exits. Every instruction of the IDL is called at least once.
// The report (JSON) lists what happened, for the pytest side to check.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const anchor = require('@coral-xyz/anchor');

const { BN } = anchor;
const { Keypair, LAMPORTS_PER_SOL, PublicKey, SYSVAR_CLOCK_PUBKEY, Transaction } = anchor.web3;

const [idlPath, reportPath] = process.argv.slice(2);
if (!idlPath || !reportPath) {
  console.error('usage: node pool_life.js IDL.json REPORT.json');
  process.exit(2);
}

const provider = anchor.AnchorProvider.env(); // ANCHOR_PROVIDER_URL, ANCHOR_WALLET
provider.opts.commitment = 'confirmed';
provider.opts.preflightCommitment = 'confirmed';
anchor.setProvider(provider);
const idl = JSON.parse(fs.readFileSync(idlPath, 'utf8'));
const program = new anchor.Program(idl, provider); // holds a camelCased copy
const connection = provider.connection;
const organization = provider.wallet; // signs for every signer account left out
const parser = new anchor.EventParser(program.programId, program.coder);
const report = { events: [], errors: [], accounts: {}, calls: {} };

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const bytes = (text, size) => Array.from(Buffer.concat([Buffer.from(text)], size));
const seed = (text) => Buffer.from(text);
const u32 = (n) => new BN(n).toArrayLike(Buffer, 'le', 4);

// --- calls by IDL name ----------------------------------------------------

function ordered(name, values) {
  const ix = program.idl.instructions.find((i) => i.name === name);
  assert.ok(ix, `no instruction ${name} in the IDL`);
  const unknown = Object.keys(values).filter((k) => !ix.args.some((a) => a.name === k));
  assert.deepEqual(unknown, [], `${name}: arguments not in the IDL`);
  return ix.args.map((arg) => {
    assert.ok(arg.name in values, `${name}: no value for argument ${arg.name}`);
    return values[arg.name];
  });
}

function method(name, args, accounts, signers = []) {
  return program.methods[name](...ordered(name, args)).accounts(accounts).signers(signers);
}

async function send(name, args, accounts, signers = []) {
  const signature = await method(name, args, accounts, signers).rpc();
  const tx = await connection.getTransaction(signature, {
    commitment: 'confirmed',
    maxSupportedTransactionVersion: 0,
  });
  const events = [...parser.parseLogs(tx.meta.logMessages)];
  report.calls[name] = (report.calls[name] || 0) + 1;
  for (const event of events) report.events.push({ instruction: name, name: event.name });
  return events;
}

// The call must fail with the IDL error `code`: Anchor turns the program's
// error line into an AnchorError (name, number, message from the program).
async function refused(kind, code, attempt) {
  const expected = idl.errors.find((e) => e.name === code); // the program's own names
  assert.ok(expected, `no error ${code} in the IDL`);
  let error = null;
  try {
    await attempt();
  } catch (e) {
    error = e instanceof anchor.AnchorError ? e : anchor.translateError(e, anchor.parseIdlErrors(idl));
  }
  assert.ok(error instanceof anchor.AnchorError, `${kind}: expected an AnchorError, got ${error}`);
  assert.equal(error.error.errorCode.code, code, `${kind}: ${error}`);
  assert.equal(error.error.errorCode.number, expected.code);
  assert.equal(error.error.errorMessage, expected.msg);
  assert.ok(error.program.equals(program.programId));
  report.errors.push({
    kind,
    code: error.error.errorCode.code,
    number: error.error.errorCode.number,
    message: error.error.errorMessage,
    text: error.toString(),
    log: error.logs.find((l) => l.includes('AnchorError occurred')),
  });
}

// --- chain helpers -------------------------------------------------------

async function chainTime() {
  const clock = await connection.getAccountInfo(SYSVAR_CLOCK_PUBKEY, 'confirmed');
  return Number(clock.data.readBigInt64LE(32));
}

async function timeTravel(unixTs) {
  // Surfpool's cheat code, as tests/gateway uses it (`surfnet_timeTravel`).
  const response = await fetch(connection.rpcEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'surfnet_timeTravel',
      params: [{ absoluteTimestamp: unixTs * 1000 }],
    }),
  });
  const body = await response.json();
  assert.ok(!body.error, `surfnet_timeTravel: ${JSON.stringify(body.error)}`);
  while ((await chainTime()) < unixTs) await new Promise((r) => setTimeout(r, 100));
}

async function funded(lamports) {
  const key = Keypair.generate();
  const sig = await connection.requestAirdrop(key.publicKey, lamports);
  await connection.confirmTransaction(sig, 'confirmed');
  return key;
}

function trainer(wallet) {
  const payout = Keypair.generate().publicKey;
  const salt = crypto.randomBytes(32);
  const updateHash = sha256(Buffer.from('update'), wallet.publicKey.toBuffer());
  return {
    wallet,
    payout,
    salt,
    updateHash,
    commitment: sha256(payout.toBuffer(), salt),
    updateCommitment: sha256(updateHash, wallet.publicKey.toBuffer()),
  };
}

function variant(value) {
  return Object.keys(value)[0]; // Anchor decodes unit enums as { name: {} }
}

// --- the pool's life -----------------------------------------------------

const INITIAL_HASH = sha256(Buffer.from('initial model'));
const REWARD = LAMPORTS_PER_SOL;
const STAKE = LAMPORTS_PER_SOL / 2;

async function createPool(poolId, aggregator, maxRounds) {
  const now = await chainTime();
  const events = await send(
    'createPool',
    {
      poolId: new BN(poolId),
      aggregator: aggregator.publicKey,
      taskCid: bytes('bafkreitaskpackage', 64),
      initialModelHash: Array.from(INITIAL_HASH),
      initialModelCid: bytes('bafkreiinitialmodel', 64),
      maxRounds,
      roundDuration: new BN(600),
      revealDuration: new BN(300),
      joinDeadline: new BN(now + 3600),
      expiryGrace: new BN(1000),
      claimWindow: new BN(5000),
      minStake: new BN(LAMPORTS_PER_SOL / 10),
      maxParticipants: 5,
      rewardPerRound: new BN(REWARD),
      slashBps: 5000,
      rewardPolicy: 0,
    },
    {}, // organization = provider wallet; pool, first round and system program from the IDL
  );
  assert.equal(events[0].name, 'poolCreated');
  return events[0].data.pool;
}

async function poolLife(aggregator, trainers) {
  const pool = await createPool(1, aggregator, 1);
  const [expected] = PublicKey.findProgramAddressSync(
    [seed('pool'), organization.publicKey.toBuffer(), new BN(1).toArrayLike(Buffer, 'le', 8)],
    program.programId,
  );
  assert.ok(pool.equals(expected), 'Anchor resolved the pool PDA from the IDL seeds');
  await send('fundPool', { amount: new BN(REWARD) }, { pool });
  for (const t of trainers) {
    await send('joinPool', { stake: new BN(STAKE), payoutCommitment: Array.from(t.commitment) },
      { wallet: t.wallet.publicKey, pool }, [t.wallet]);
  }
  await send('startTraining', {}, { pool });
  for (const t of trainers) {
    await send('submitUpdate', {
      round: 1,
      updateCommitment: Array.from(t.updateCommitment),
      numSamples: new BN(100),
      baseModelHash: Array.from(INITIAL_HASH),
    }, { wallet: t.wallet.publicKey, pool }, [t.wallet]);
  }
  for (const t of trainers) { // everyone committed: reveals are open at once
    await send('revealUpdate', {
      round: 1,
      updateHash: Array.from(t.updateHash),
      updateCid: bytes(`bafkreiupdate${t.wallet.publicKey.toBase58().slice(0, 8)}`, 64),
    }, { wallet: t.wallet.publicKey, pool }, [t.wallet]);
  }
  const scores = [6000, 3000]; // 10% of the round's budget is left to reclaim
  for (const [i, t] of trainers.entries()) {
    await send('judgeSubmission', {
      round: 1, wallet: t.wallet.publicKey, verdict: 1, score: scores[i], reason: 0,
    }, { aggregator: aggregator.publicKey, pool }, [aggregator]);
  }

  // Every account type, fetched and decoded by the IDL.
  const roundKey = PublicKey.findProgramAddressSync([seed('round'), pool.toBuffer(), u32(1)], program.programId)[0];
  const participantKey = PublicKey.findProgramAddressSync(
    [seed('participant'), pool.toBuffer(), trainers[0].wallet.publicKey.toBuffer()], program.programId)[0];
  const submissionKey = PublicKey.findProgramAddressSync(
    [seed('submission'), pool.toBuffer(), u32(1), trainers[0].wallet.publicKey.toBuffer()],
    program.programId)[0];
  const round = await program.account.round.fetch(roundKey);
  const participant = await program.account.participant.fetch(participantKey);
  const submission = await program.account.submission.fetch(submissionKey);
  assert.equal(round.judgedCount, 2);
  assert.equal(round.totalScore, 9000);
  assert.equal(variant(participant.status), 'active');
  assert.ok(participant.rewardAccrued.eq(new BN(REWARD * 0.6)));
  assert.ok(participant.wallet.equals(trainers[0].wallet.publicKey));
  assert.equal(variant(submission.verdict), 'accepted');
  assert.ok(Buffer.from(submission.updateHash).equals(trainers[0].updateHash));
  report.accounts.round = { judgedCount: round.judgedCount, totalScore: round.totalScore };
  report.accounts.participant = {
    status: variant(participant.status), rewardAccrued: participant.rewardAccrued.toString(),
  };
  report.accounts.submission = { verdict: variant(submission.verdict), score: submission.score };
  assert.equal((await program.account.participant.all()).length >= 2, true);

  // The next round's PDA is `round + 1`: no IDL can express it, so it is passed.
  const nextRound = PublicKey.findProgramAddressSync([seed('round'), pool.toBuffer(), u32(2)], program.programId)[0];
  await send('finalizeRound', {
    round: 1,
    globalModelHash: Array.from(sha256(Buffer.from('global 1'))),
    globalModelCid: bytes('bafkreiglobal1', 64),
    recordCid: bytes('bafkreirecord1', 64),
  }, { aggregator: aggregator.publicKey, pool, nextRound }, [aggregator]);

  const finished = await program.account.pool.fetch(pool);
  assert.equal(variant(finished.status), 'finished');
  assert.ok(finished.totalAccrued.eq(new BN(REWARD * 0.9)));
  assert.ok(finished.organization.equals(organization.publicKey));
  report.accounts.pool = {
    status: variant(finished.status),
    totalAccrued: finished.totalAccrued.toString(),
    poolId: finished.poolId.toString(),
  };

  for (const [i, t] of trainers.entries()) {
    const participantOf = PublicKey.findProgramAddressSync(
      [seed('participant'), pool.toBuffer(), t.wallet.publicKey.toBuffer()], program.programId)[0];
    const [claimed] = await send('claimReward', { payoutWallet: t.payout, salt: Array.from(t.salt) },
      { pool, participant: participantOf, payoutWallet: t.payout });
    assert.ok(claimed.data.amount.eq(new BN((REWARD * scores[i]) / 10000)));
    assert.equal(await connection.getBalance(t.payout, 'confirmed'), (REWARD * scores[i]) / 10000);
    await send('withdrawStake', {}, { wallet: t.wallet.publicKey, pool }, [t.wallet]);
    const subOf = PublicKey.findProgramAddressSync(
      [seed('submission'), pool.toBuffer(), u32(1), t.wallet.publicKey.toBuffer()], program.programId)[0];
    await send('closeSubmission', {}, { wallet: t.wallet.publicKey, pool, submission: subOf }, [t.wallet]);
  }
  // organization comes from the pool's `organization` field (IDL relation)
  await send('reclaimFunding', {}, { pool });
  await send('closePool', {}, { pool });
  assert.equal(await connection.getAccountInfo(pool, 'confirmed'), null);
}

async function refusals(aggregator, t, late) {
  const pool = await createPool(2, aggregator, 2);
  await send('fundPool', { amount: new BN(2 * REWARD) }, { pool });
  await send('joinPool', { stake: new BN(STAKE), payoutCommitment: Array.from(t.commitment) },
    { wallet: t.wallet.publicKey, pool }, [t.wallet]);
  await send('startTraining', {}, { pool });
  const judge = { round: 1, wallet: t.wallet.publicKey, verdict: 1, score: 10000, reason: 0 };

  // signer: the aggregator's key is passed but does not sign
  await refused('signer', 'MissingSigner', async () => {
    const ix = await method('judgeSubmission', judge, { aggregator: aggregator.publicKey, pool }).instruction();
    for (const meta of ix.keys) if (meta.pubkey.equals(aggregator.publicKey)) meta.isSigner = false;
    await provider.sendAndConfirm(new Transaction().add(ix), []);
  });
  // relation: someone else signs as the aggregator (pool.aggregator differs)
  const stranger = await funded(LAMPORTS_PER_SOL);
  await refused('relation', 'Unauthorized', () =>
    method('judgeSubmission', judge, { aggregator: stranger.publicKey, pool }, [stranger]).rpc());
  // status: joining a pool that is already training
  await refused('status', 'InvalidPoolStatus', () =>
    method('joinPool', { stake: new BN(STAKE), payoutCommitment: Array.from(late.commitment) },
      { wallet: late.wallet.publicKey, pool }, [late.wallet]).rpc());
  // deadline: committing after the round's submission deadline (time travel)
  const round1 = PublicKey.findProgramAddressSync([seed('round'), pool.toBuffer(), u32(1)], program.programId)[0];
  const clock = await program.account.round.fetch(round1);
  await timeTravel(clock.deadline.toNumber() + 1);
  await refused('deadline', 'RoundDeadlinePassed', () =>
    method('submitUpdate', {
      round: 1,
      updateCommitment: Array.from(t.updateCommitment),
      numSamples: new BN(100),
      baseModelHash: Array.from(INITIAL_HASH),
    }, { wallet: t.wallet.publicKey, pool }, [t.wallet]).rpc());

  return { pool, clock };
}

// The exits nobody needs to cooperate with, on pool 2 (left by its aggregator)
// and two pools that never train: one cancelled, one left Open past its join
// window. Accounts come from the IDL: the round from the pool's `round` field
// (an account-data seed), the participant from the pool and the wallet, the
// organization from the pool's `organization` field (a relation).
async function exits(aggregator, t, { pool, clock }) {
  const cancelled = await createPool(3, aggregator, 1);
  await send('cancelPool', {}, { pool: cancelled });
  await send('closePool', {}, { pool: cancelled });
  const forgotten = await createPool(4, aggregator, 1);

  await timeTravel(clock.expiresAt.toNumber());
  await send('expireRound', {}, { pool });
  const expired = await program.account.pool.fetch(pool);
  assert.equal(variant(expired.status), 'expired');
  const open = await program.account.pool.fetch(forgotten);
  await timeTravel(Math.max(
    expired.endedAt.toNumber() + expired.claimWindow.toNumber(),
    open.joinDeadline.toNumber() + open.expiryGrace.toNumber(),
  ));
  await send('expirePool', {}, { pool: forgotten });
  await send('closePool', {}, { pool: forgotten });
  const before = await connection.getBalance(t.wallet.publicKey, 'confirmed');
  await send('settleParticipant', {}, { pool, wallet: t.wallet.publicKey });
  assert.ok((await connection.getBalance(t.wallet.publicKey, 'confirmed')) >= before + STAKE);
  await send('reclaimFunding', {}, { pool });
  await send('closePool', {}, { pool });
}

async function main() {
  const started = Date.now();
  const aggregator = await funded(2 * LAMPORTS_PER_SOL);
  const trainers = [trainer(await funded(2 * LAMPORTS_PER_SOL)), trainer(await funded(2 * LAMPORTS_PER_SOL))];
  await poolLife(aggregator, trainers);
  const third = trainer(await funded(2 * LAMPORTS_PER_SOL));
  const pool2 = await refusals(aggregator, third, trainer(await funded(2 * LAMPORTS_PER_SOL)));
  await exits(aggregator, third, pool2);
  const names = program.idl.instructions.map((ix) => ix.name);
  assert.deepEqual(names.filter((n) => !report.calls[n]), [], 'every instruction was called');
  report.seconds = (Date.now() - started) / 1000;
  report.anchor = require('@coral-xyz/anchor/package.json').version;
  fs.writeFileSync(reportPath, JSON.stringify(report, null, 2));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.logs) console.error(e.logs.join('\n'));
  process.exit(1);
});
