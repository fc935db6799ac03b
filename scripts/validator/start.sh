#!/usr/bin/env bash
# Starts a local Solana validator (Surfpool, offline, 127.0.0.1 only) in the
# background with a program deployed, waits until it answers getHealth, writes
# its PID to <workdir>/validator.pid, prints the RPC and WS URLs and exits 0.
# Stop it with scripts/validator/stop.sh [--workdir DIR].
#
#   scripts/validator/start.sh --program-id <BASE58> --so target/deploy/fedstake.so \
#       [--port 8899] [--ws-port PORT+1] [--workdir .fedstake/validator] [--timeout 60] \
#       [--block-production-mode clock|transaction|manual] [--slot-time-ms 400]
#
# --program-id/--so may be repeated (pairs) or left out. State is in memory:
# every start is a fresh chain. Log: <workdir>/surfnet.log.
#
# Equivalent for users with the Solana CLI:
#   solana-test-validator --reset --bind-address 127.0.0.1 --rpc-port 8899 \
#       --bpf-program <PROGRAM_ID> target/deploy/fedstake.so
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
say() { printf '[validator] %s\n' "$*" >&2; }
die() { printf '[validator] error: %s\n' "$*" >&2; exit 1; }

WORKDIR="$ROOT/.fedstake/validator"
PORT=8899
WS_PORT=""
TIMEOUT=60
PASS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --workdir) WORKDIR="${2:?--workdir needs a value}"; shift 2 ;;
        --port) PORT="${2:?--port needs a value}"; shift 2 ;;
        --ws-port) WS_PORT="${2:?--ws-port needs a value}"; shift 2 ;;
        --timeout) TIMEOUT="${2:?--timeout needs a value}"; shift 2 ;;
        --program-id|--so|--block-production-mode|--slot-time-ms|--airdrop-sol)
            PASS+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
[[ -n "$WS_PORT" ]] || WS_PORT=$(( PORT == 0 ? 0 : PORT + 1 ))

bash "$HERE/install.sh"

mkdir -p "$WORKDIR"
WORKDIR="$(cd "$WORKDIR" && pwd)"
PIDFILE="$WORKDIR/validator.pid"
LOG="$WORKDIR/surfnet.log"
READY="$WORKDIR/ready.json"

if [[ -s "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null | grep -q 'surfnet.js'; then
    die "a validator is already running from $WORKDIR (pid $(cat "$PIDFILE")); run scripts/validator/stop.sh --workdir $WORKDIR"
fi
rm -f "$PIDFILE" "$READY"

# setsid + nohup + no stdin: survives this shell, needs no TTY.
setsid nohup node "$HERE/surfnet.js" --workdir "$WORKDIR" --port "$PORT" --ws-port "$WS_PORT" \
    "${PASS[@]}" </dev/null >"$LOG" 2>&1 &
PID=$!
echo "$PID" >"$PIDFILE"

fail() {
    printf '[validator] error: %s\n--- last lines of %s ---\n' "$1" "$LOG" >&2
    tail -n 40 "$LOG" >&2 || true
    kill -TERM "$PID" 2>/dev/null || true
    rm -f "$PIDFILE"
    exit 1
}

# Ready = surfnet.js wrote ready.json (after deploying) and getHealth answers "ok".
# One node process polls both, bounded by --timeout, and prints "rpc ws version".
set +e
READY_LINE="$(timeout $(( TIMEOUT + 15 )) node -e '
    const fs = require("fs");
    const [readyFile, pid, timeoutS] = process.argv.slice(1);
    const deadline = Date.now() + Number(timeoutS) * 1000;
    const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
    const health = (url) => fetch(url, {method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "getHealth"}), signal: AbortSignal.timeout(5000)})
        .then((r) => r.json()).then((j) => j.result === "ok").catch(() => false);
    (async () => {
      for (;;) {
        if (!alive()) { console.error("validator exited during start-up"); process.exit(2); }
        if (Date.now() > deadline) { console.error(`validator not ready within ${timeoutS}s`); process.exit(3); }
        let info = null;
        try { info = JSON.parse(fs.readFileSync(readyFile, "utf8")); } catch {}
        if (info && await health(info.rpc_url)) {
          console.log(`${info.rpc_url} ${info.ws_url} ${info.surfpool_version}`);
          process.exit(0);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();' "$READY" "$PID" "$TIMEOUT" </dev/null 2>&1)"
rc=$?
set -e
[[ $rc -eq 0 ]] || fail "$READY_LINE"
read -r RPC_URL WS_URL VERSION <<<"$READY_LINE"

say "surfpool $VERSION running, pid $PID, log $LOG"
echo "RPC_URL=$RPC_URL"
echo "WS_URL=$WS_URL"
echo "PID_FILE=$PIDFILE"
echo "PAYER_KEYPAIR=$WORKDIR/payer.json"
