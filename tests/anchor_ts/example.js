// Create and fund a fedstake pool with Anchor's TypeScript client.
//   ANCHOR_PROVIDER_URL=http://127.0.0.1:8899 ANCHOR_WALLET=~/.config/solana/id.json \
//     node tests/anchor_ts/example.js target/idl/fedstake.json
const anchor = require("@coral-xyz/anchor");
const fs = require("node:fs");
const { BN } = anchor;

async function main() {
  const provider = anchor.AnchorProvider.env();
  provider.opts.commitment = provider.opts.preflightCommitment = "confirmed";
  const program = new anchor.Program(JSON.parse(fs.readFileSync(process.argv[2])), provider);
  const me = provider.wallet.publicKey;
  const now = await provider.connection.getBlockTime(await provider.connection.getSlot());
  const cid = (text) => Array.from(Buffer.concat([Buffer.from(text)], 64));
  const poolId = new BN(Date.now());
  // organization (the wallet), the pool and round-1 PDAs, system program: all from the IDL
  await program.methods
    .createPool(poolId, me /* aggregator */, cid("bafkrei-task"), Array(32).fill(7),
      cid("bafkrei-model"), 3 /* rounds */, new BN(600), new BN(300), new BN(now + 3600),
      new BN(1000), new BN(86400), new BN(1e8) /* min stake */, 10, new BN(1e9), 5000, 0)
    .rpc();
  const [pool] = anchor.web3.PublicKey.findProgramAddressSync(
    [Buffer.from("pool"), me.toBuffer(), poolId.toArrayLike(Buffer, "le", 8)],
    program.programId,
  );
  await program.methods.fundPool(new BN(3e9)).accounts({ pool }).rpc();
  const state = await program.account.pool.fetch(pool);
  console.log(pool.toBase58(), Object.keys(state.status)[0], state.totalFunded.toString());
  try {
    await program.methods.fundPool(new BN(0)).accounts({ pool }).rpc();
  } catch (e) {
    console.log(e.error.errorCode.code, e.error.errorCode.number, e.error.errorMessage);
  }
}

main();
