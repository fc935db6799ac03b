"""Runs flower-digits on Flower's deployment runtime in a fedstake pool, start to end.

    python run_deployment.py --url http://127.0.0.1:8899 --work /tmp/flower-digits-deploy

Everything as separate processes on this machine:

1. the pool is opened, funded, joined by `--nodes` participants and started
   (`flower_digits.pool`, as in `run_simulation.py`);
2. one SuperLink (`flower-superlink --insecure`, its HTTP API on a free port)
   and one SuperNode per participant (`flower-supernode`, with
   `--node-config` giving its partition, its own keypair and the chain);
3. `flwr run . <connection> --run-config ... --stream` submits this app; the
   SuperLink starts the ServerApp (`StakedStrategy`) and each SuperNode its
   ClientApp (`fedstake_mod`) as subprocesses;
4. once the pool is Finished, every participant claims; prints a JSON summary.

Every process it starts is stopped (SIGTERM, then SIGKILL, by process group)
when it returns or fails. Logs go to `<work>/logs/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
CONNECTION = "fedstake-local"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:  # type: ignore[type-arg]
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def descendants(roots: list[int]) -> list[int]:
    """Every live descendant of `roots` (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def toml_pairs(values: dict[str, object]) -> str:
    """`a="x" b=2`: Flower's `--node-config` / `--run-config` syntax."""
    return " ".join(f"{k}={json.dumps(v)}" for k, v in values.items())


class Processes:
    """The processes this run started, each in its own process group."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs, self.env, self.started = logs, env, []  # type: ignore[var-annotated]

    def start(self, name: str, args: list[str]) -> subprocess.Popen:  # type: ignore[type-arg]
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True,
        )
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        """Stops the started processes and their descendants (the SuperLink
        and SuperNodes start the ServerApp / ClientApps in new sessions, out
        of the process group)."""
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            family = descendants([p.pid for p in self.started if p.poll() is None])
            for proc in self.started:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, sig)
            for pid in family:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            for proc in self.started:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)


def main() -> None:
    sys.path[:0] = [str(HERE), str(ROOT)]
    from flower_digits.pool import Keys
    from flower_digits.runs import finish, parser, stake, wait_finished

    options = parser(__doc__)
    options.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    args = options.parse_args()
    deadline = time.monotonic() + args.timeout

    work = args.work.resolve()
    keys = Keys(work / "keys", args.nodes)
    store = f"local:{work / 'store'}"
    pool = stake(args.url, store, keys, args.rounds)

    home, logs = work / "flwr-home", work / "logs"
    home.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n'
        f'[superlink.{CONNECTION}]\naddress = "127.0.0.1:{port}"\ninsecure = true\n'
    )
    env = {
        **os.environ,
        "FLWR_HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
    }
    procs = Processes(logs, env)
    try:
        link = procs.start("superlink", [
            str(BIN / "flower-superlink"), "--insecure", "--port", str(port),
            "--disable-runtime-dependency-installation",
        ])
        wait_port(port, link, 60)
        for i in range(args.nodes):
            node_config = {
                "partition-id": i,
                "num-partitions": args.nodes,
                "fedstake-keypair": str(keys.participant_path(i)),
                "fedstake-url": args.url,
                "fedstake-store": store,
            }
            procs.start(f"supernode-{i}", [
                str(BIN / "flower-supernode"), "--insecure",
                "--superlink", f"127.0.0.1:{port}", "--port", str(free_port()),
                "--node-config", toml_pairs(node_config),
            ])
        run_config = {
            "fedstake-pool": str(pool),
            "fedstake-url": args.url,
            "fedstake-store": store,
            "fedstake-aggregator-keypair": str(keys.aggregator_path),
            "min-nodes": args.nodes,
            "num-server-rounds": args.rounds,
        }
        flwr = procs.start("flwr-run", [
            str(BIN / "flwr"), "run", str(HERE), CONNECTION,
            "--run-config", toml_pairs(run_config), "--stream",
        ])

        def flwr_alive() -> None:
            if flwr.poll() not in (None, 0):
                raise RuntimeError(f"flwr run exited with {flwr.returncode}: see {logs}")

        try:
            wait_finished(args.url, pool, deadline - time.monotonic(), flwr_alive)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: see {logs}") from None
    finally:
        procs.stop()
    print(json.dumps(finish(args.url, pool, keys)), flush=True)


if __name__ == "__main__":
    main()
