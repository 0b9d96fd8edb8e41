"""Fault scenarios on real Ray clusters, run by tests/test_ray_executor.py inside a loopback-only network namespace.

    unshare -n sh -c 'ip link set lo up && exec python tests/ray_scenarios.py MODE RECIPE SUMMARY.json'

``two-node``: a head and a worker node (``ray start``, one CPU each), ``flair-munch run --executor ray
--address`` across both; once the worker node has finished a job and is running another, its raylet is
killed with its worker processes (kill -9 each) while it runs a run that has a checkpoint. ``driver-kill``: the driver starts a local cluster (``--workers 2``) and is killed
(kill -9) after its first finished run, then started again. Both wait for the study to finish and
write a JSON summary. This process is a child subreaper, so every Ray process (``ray start`` daemons
included) stays its descendant; all are killed by PID at the end, and the summary lists any that survived.
"""

import ctypes
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

PR_SET_CHILD_SUBREAPER = 36
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1", "RAY_health_check_period_ms": "500",
       "RAY_health_check_failure_threshold": "4", "RAY_USAGE_STATS_ENABLED": "0"}


def descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def kill_all() -> list[int]:
    """Kills every descendant by PID; returns those still alive after (should be none)."""
    for _ in range(3):
        for process in descendants():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.5)
        for process in descendants():
            try:
                process.wait(timeout=0)
            except (psutil.TimeoutExpired, psutil.NoSuchProcess):
                pass
    return [p.pid for p in descendants() if p.status() != psutil.STATUS_ZOMBIE]


def raylets() -> dict[int, str]:
    """PID -> node id of every raylet below this process."""
    found = {}
    for process in descendants():
        try:
            args = process.cmdline()
        except psutil.NoSuchProcess:
            continue
        if args and args[0].endswith("/raylet"):
            found[process.pid] = next(a.split("=", 1)[1] for a in args if a.startswith("--node_id="))
    return found


def records(out: Path) -> list[dict]:
    path = out / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def jobs_on(out: Path, node: str) -> tuple[int, int]:
    """(finished, running with a checkpoint to resume from) jobs whose executor.json names ``node``."""
    finished = resumable = 0
    for marker in out.glob("*runs/*/executor.json"):
        if json.loads(marker.read_text())["node"].endswith(node[:8]):
            if (marker.parent / "metrics.json").is_file():
                finished += 1
            elif (marker.parent / "checkpoint.pt").is_file():
                resumable += 1
    return finished, resumable


def driver(recipe: str, log: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flair_munch.cli", "run", recipe, "--executor", "ray",
                             "--no-progress", *flags], env=ENV, stdout=open(log, "a"), stderr=subprocess.STDOUT)


def two_node(recipe: str, out: Path, summary: dict) -> None:
    port = random.randint(20000, 30000)
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    started = open(out.parent / "ray-start.log", "a")  # a file, not a pipe: the daemons keep it open
    subprocess.run(["ray", "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}",
                    *common], env=ENV, check=True, stdout=started, stderr=subprocess.STDOUT)
    head = raylets()
    subprocess.run(["ray", "start", f"--address=127.0.0.1:{port}", *common], env=ENV, check=True, stdout=started,
                   stderr=subprocess.STDOUT)
    (worker_pid, worker_node), = [(pid, node) for pid, node in raylets().items() if pid not in head]
    summary.update(head_node=next(iter(head.values())), worker_node=worker_node, killed=False)
    log = out.parent / "driver.log"
    process = driver(recipe, log, "--address", f"127.0.0.1:{port}")
    while process.poll() is None:
        finished, resumable = jobs_on(out, worker_node)
        if not summary["killed"] and finished and resumable:
            node = psutil.Process(worker_pid)
            for member in [node, *node.children(recursive=True)]:  # the node dies whole: raylet and its workers
                member.send_signal(signal.SIGKILL)
            summary.update(killed=True, killed_at=len(records(out)))
        time.sleep(0.05)
    summary["rc"] = process.returncode
    summary["resumed"] = sorted(p.parent.name for p in out.glob("*runs/*/train.log") if "resuming" in p.read_text())
    summary["jobs_per_node"] = {node[:8]: jobs_on(out, node)[0] for node in (summary["head_node"], worker_node)}


def driver_kill(recipe: str, out: Path, summary: dict) -> None:
    log = out.parent / "driver.log"
    process = driver(recipe, log, "--workers", "2")
    while process.poll() is None and not records(out):
        time.sleep(0.2)
    summary["killed"] = process.poll() is None
    summary["killed_at"] = len(records(out))
    process.kill()  # kill -9 of the driver alone; its cluster's processes die or are orphaned to us
    process.wait()
    summary["leftover_after_kill"] = len(kill_all())
    summary["rc"] = driver(recipe, log, "--workers", "2").wait()


def main() -> None:
    mode, recipe, summary_path = sys.argv[1:4]
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    out = Path(sys.argv[4])
    summary: dict = {"mode": mode}
    start = time.time()
    try:
        {"two-node": two_node, "driver-kill": driver_kill}[mode](recipe, out, summary)
    finally:
        summary["leftover"] = kill_all()
        summary["seconds"] = round(time.time() - start, 1)
        Path(summary_path).write_text(json.dumps(summary))
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
