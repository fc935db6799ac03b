#!/usr/bin/env bash
# Stops the validator started by scripts/validator/start.sh.
#   scripts/validator/stop.sh [--workdir .fedstake/validator]
# Exits 0 when nothing is running.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORKDIR="$ROOT/.fedstake/validator"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --workdir) WORKDIR="${2:?--workdir needs a value}"; shift 2 ;;
        -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) printf '[validator] error: unknown argument: %s\n' "$1" >&2; exit 2 ;;
    esac
done
PIDFILE="$WORKDIR/validator.pid"

if [[ ! -s "$PIDFILE" ]]; then
    echo "[validator] not running (no $PIDFILE)"
    exit 0
fi
PID="$(cat "$PIDFILE")"
# Only signal the process if it really is our runner (the pid may have been reused).
if ! kill -0 "$PID" 2>/dev/null \
    || ! tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q 'surfnet.js'; then
    echo "[validator] not running (stale pid $PID)"
    rm -f "$PIDFILE" "$WORKDIR/ready.json"
    exit 0
fi

# Alive = exists and not a zombie (an exited child may wait a while to be reaped).
alive() { [[ -e "/proc/$PID" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$PID/status" 2>/dev/null; }

kill -TERM "$PID"
for _ in $(seq 1 100); do    # up to 10 s for a graceful stop
    alive || break
    sleep 0.1
done
if alive; then
    echo "[validator] pid $PID did not stop within 10s; killing it" >&2
    kill -KILL "$PID" 2>/dev/null || true
fi
rm -f "$PIDFILE" "$WORKDIR/ready.json"
echo "[validator] stopped (pid $PID)"
