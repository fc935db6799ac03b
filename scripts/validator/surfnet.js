#!/usr/bin/env node
// Runs a local Solana validator (Surfpool's embedded "surfnet") for fedstake's
// rpc-backend tests, in the foreground, until SIGTERM/SIGINT.
//
// The registry ships Surfpool as a Node addon (@solana/surfpool-linux-x64-gnu,
// the `crates/sdk-node` build), not as the `surfpool` CLI: it has no `--help`,
// no flags and no TUI/Studio/explorer; its only knobs are the SurfnetConfig
// fields used below. What this script does with them:
//
//   * offline: true, no remoteRpcUrl  -> no mainnet datasource; an account that
//     was never written locally simply does not exist (nothing is fetched).
//   * the addon binds its HTTP RPC and WebSocket servers on 127.0.0.1 at free,
//     random ports (it has no port option). This script therefore listens on
//     127.0.0.1:<--port> and 127.0.0.1:<--ws-port> itself and pipes each TCP
//     connection to the addon's port (plain byte pipe, so both JSON-RPC over
//     HTTP and WebSocket pubsub work unchanged). --port 0 skips the proxy and
//     publishes the addon's own random ports.
//   * the program is deployed with the addon's `deploy({programId, soPath})`
//     cheatcode (surfnet_writeProgram): it creates an upgradeable-loader
//     (BPFLoaderUpgradeab1e11111111111111111111111) program account at
//     --program-id plus its ProgramData account holding the ELF -- the same
//     layout `solana-test-validator --upgradeable-program` or a real
//     `solana program deploy` produces.
//   * state is in memory: every start is a fresh chain (like
//     `solana-test-validator --reset`). --workdir only holds this script's
//     log, pid file, ready file and the funded payer keypair.
//
// Users with the Solana CLI can run the equivalent instead:
//   solana-test-validator --reset --bind-address 127.0.0.1 --rpc-port 8899 \
//       --bpf-program CEU4f5KSs8d4tNFuGtrzKadzHkDm1hHLQuKMt93qVUbG target/deploy/fedstake.so
//
// When ready it writes <workdir>/ready.json:
//   {"rpc_url", "ws_url", "pid", "payer", "payer_keypair_path", "program_id",
//    "surfpool_version", "upstream_rpc_url", "upstream_ws_url", "startup_ms"}
// and prints "READY <rpc_url> <ws_url>" on stdout.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');

const PKG = '@solana/surfpool-linux-x64-gnu';

function usage(code) {
  const text = `usage: node surfnet.js --workdir DIR [--port 8899] [--ws-port PORT+1]
                       [--program-id BASE58 --so PATH]...
                       [--block-production-mode clock|transaction|manual]
                       [--slot-time-ms 400] [--airdrop-sol LAMPORTS]
                       [--parent-pid PID]
  --port 0 uses the random ports Surfpool picks itself (no proxy).
  --parent-pid: exit when that process is gone (used by launcher.py).`;
  (code ? process.stderr : process.stdout).write(text + '\n');
  process.exit(code);
}

function parseArgs(argv) {
  const opts = {
    workdir: null,
    port: 8899,
    wsPort: null,
    programs: [],
    blockProductionMode: 'clock',
    slotTimeMs: 400,
    airdropSol: 500_000_000_000, // 500 SOL for the payer, in lamports
    parentPid: null,
  };
  let pendingId = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) {
        console.error(`missing value for ${a}`);
        usage(2);
      }
      return argv[++i];
    };
    switch (a) {
      case '--workdir': opts.workdir = val(); break;
      case '--port': opts.port = toInt(val(), a); break;
      case '--ws-port': opts.wsPort = toInt(val(), a); break;
      case '--program-id': pendingId = val(); break;
      case '--so':
        if (!pendingId) { console.error('--so must follow --program-id'); usage(2); }
        opts.programs.push({ programId: pendingId, soPath: path.resolve(val()) });
        pendingId = null;
        break;
      case '--block-production-mode': opts.blockProductionMode = val(); break;
      case '--slot-time-ms': opts.slotTimeMs = toInt(val(), a); break;
      case '--airdrop-sol': opts.airdropSol = toInt(val(), a); break;
      case '--parent-pid': opts.parentPid = toInt(val(), a); break;
      case '-h': case '--help': usage(0); break;
      default: console.error(`unknown argument: ${a}`); usage(2);
    }
  }
  if (pendingId) { console.error('--program-id needs a following --so'); usage(2); }
  if (!opts.workdir) { console.error('--workdir is required'); usage(2); }
  if (opts.wsPort === null) opts.wsPort = opts.port === 0 ? 0 : opts.port + 1;
  return opts;
}

function toInt(s, name) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) { console.error(`${name}: not a non-negative integer: ${s}`); usage(2); }
  return n;
}

function log(msg) {
  process.stderr.write(`[surfnet ${new Date().toISOString()}] ${msg}\n`);
}

// Listen on 127.0.0.1:listenPort and pipe every connection to 127.0.0.1:targetPort.
function tcpProxy(listenPort, targetPort) {
  return new Promise((resolve, reject) => {
    const sockets = new Set();
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      sockets.add(client); sockets.add(upstream);
      const done = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
      client.on('error', done); upstream.on('error', done);
      client.on('close', done); upstream.on('close', done);
      client.pipe(upstream); upstream.pipe(client);
    });
    server.on('error', reject);
    server.listen({ host: '127.0.0.1', port: listenPort, exclusive: true }, () => {
      server.removeListener('error', reject);
      server.on('error', (e) => log(`proxy ${listenPort}: ${e.message}`));
      resolve({ server, sockets });
    });
  });
}

// Fail early on a missing file or one that is not an SBF/BPF ELF (e_machine
// 247 = EM_BPF, 263 = EM_SBPF): Surfpool would store any bytes as a program.
function checkSbfElf(file) {
  let head;
  try {
    const fd = fs.openSync(file, 'r');
    head = Buffer.alloc(20);
    fs.readSync(fd, head, 0, 20, 0);
    fs.closeSync(fd);
  } catch (e) {
    throw new Error(`cannot read program file ${file}: ${e.message}`);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
  const machine = head.readUInt16LE(18);
  if (machine !== 247 && machine !== 263) {
    throw new Error(`${file} is an ELF for machine ${machine}, not an SBF program (247/263)`);
  }
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.workdir, { recursive: true });
  const readyFile = path.join(opts.workdir, 'ready.json');
  fs.rmSync(readyFile, { force: true });

  for (const p of opts.programs) {
    checkSbfElf(p.soPath);
  }

  let addon, version;
  try {
    addon = require(PKG);
    version = require(`${PKG}/package.json`).version;
  } catch (e) {
    throw new Error(`${PKG} is not installed (run scripts/validator/install.sh): ${e.message}`);
  }

  const t0 = Date.now();
  const config = {
    offline: true, // never fall back to a remote (mainnet) datasource
    blockProductionMode: opts.blockProductionMode,
    slotTimeMs: opts.slotTimeMs,
    airdropSol: opts.airdropSol,
  };
  log(`starting surfpool ${version} with ${JSON.stringify(config)}`);
  const surfnet = addon.Surfnet.startWithConfig(config);
  log(`surfnet up at ${surfnet.rpcUrl} ${surfnet.wsUrl}`);

  let stopping = false;
  const proxies = [];
  const shutdown = (why, code) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    for (const p of proxies) {
      p.server.close();
      for (const s of p.sockets) s.destroy();
    }
    try { surfnet.stop(); } catch (e) { log(`stop: ${e.message}`); }
    fs.rmSync(readyFile, { force: true });
    log('stopped');
    process.exit(code);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('SIGHUP', () => shutdown('SIGHUP', 0));

  for (const p of opts.programs) {
    const id = surfnet.deploy({ programId: p.programId, soPath: p.soPath });
    log(`deployed ${p.soPath} at ${id}`);
  }
  for (const ev of surfnet.drainEvents()) {
    if (ev.message) log(`event ${ev.kind}: ${ev.message}`);
  }

  let rpcUrl = surfnet.rpcUrl;
  let wsUrl = surfnet.wsUrl;
  if (opts.port !== 0) {
    const upRpc = Number(new URL(surfnet.rpcUrl).port);
    const upWs = Number(new URL(surfnet.wsUrl).port);
    try {
      proxies.push(await tcpProxy(opts.port, upRpc));
      proxies.push(await tcpProxy(opts.wsPort, upWs));
    } catch (e) {
      log(`cannot listen on 127.0.0.1:${opts.port}/${opts.wsPort}: ${e.message}`);
      shutdown('port in use', 3);
      return;
    }
    rpcUrl = `http://127.0.0.1:${opts.port}`;
    wsUrl = `ws://127.0.0.1:${opts.wsPort}`;
  }

  const payerPath = path.join(opts.workdir, 'payer.json');
  writeAtomic(payerPath, JSON.stringify(Array.from(surfnet.payerSecretKey)));
  const info = {
    rpc_url: rpcUrl,
    ws_url: wsUrl,
    pid: process.pid,
    payer: surfnet.payer,
    payer_keypair_path: payerPath,
    programs: opts.programs.map((p) => ({ program_id: p.programId, so: p.soPath })),
    surfpool_version: version,
    block_production_mode: opts.blockProductionMode,
    slot_time_ms: opts.slotTimeMs,
    upstream_rpc_url: surfnet.rpcUrl,
    upstream_ws_url: surfnet.wsUrl,
    startup_ms: Date.now() - t0,
  };
  writeAtomic(readyFile, JSON.stringify(info, null, 2) + '\n');
  log(`ready in ${info.startup_ms} ms: ${rpcUrl} ${wsUrl}`);
  process.stdout.write(`READY ${rpcUrl} ${wsUrl}\n`);

  // Keep the event loop alive (with --port 0 there is no server holding it)
  // and follow the parent, so a killed test run never leaves a validator behind.
  setInterval(() => {
    for (const ev of surfnet.drainEvents()) {
      if (/error|warn|abort/i.test(ev.kind)) log(`event ${ev.kind}: ${ev.message}`);
    }
    if (opts.parentPid) {
      try { process.kill(opts.parentPid, 0); } catch { shutdown(`parent ${opts.parentPid} gone`, 0); }
    }
  }, 1000);
}

main().catch((e) => {
  log(`error: ${e && e.message ? e.message : e}`);
  if (process.env.SURFNET_DEBUG && e && e.stack) log(e.stack);
  process.exit(1);
});
