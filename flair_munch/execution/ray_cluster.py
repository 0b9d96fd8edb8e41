"""Joining or starting the Ray cluster a study runs on, so that it fails in seconds instead of waiting for ever.

``probe_address``: Ray's connect retries an address with no cluster for ever, so a TCP probe
goes first. ``resource_problem``: a task that asks for more GPUs or CPUs than any node has waits
for ever, so the nodes' resources are checked before submitting. ``LocalClusterRecord``: after
kill -9 of a driver, processes of the local cluster it started may live on (Ray's agents, idle
workers, actors); each local cluster is recorded, and the next start stops what a dead driver left.
"""

import json
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Optional

import psutil

log = logging.getLogger("flair_munch")

CONNECT_TIMEOUT_S = 5.0


def probe_address(address: str) -> None:
    """Raises ``RuntimeError`` (one line) unless a Ray cluster may answer at ``address`` (``auto`` or HOST:PORT)."""
    from ray._private.services import canonicalize_bootstrap_address_or_die

    try:
        resolved = canonicalize_bootstrap_address_or_die(address)  # what ray.init connects to (auto: `ray start`'s)
    except ConnectionError:
        raise RuntimeError(f"--address {address}: no Ray cluster runs on this machine. Start one with "
                           "`ray start --head`, give the head node as HOST:PORT, or leave out --address to start "
                           "a local cluster.") from None
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        via = f" (Ray connects to {resolved})" if address not in (resolved, "auto") else ""
        reason = (f"no answer within {CONNECT_TIMEOUT_S:g} s" if isinstance(error, socket.timeout)
                  else (error.strerror or str(error)).lower())
        raise RuntimeError(f"--address {address}: no Ray cluster answers there{via}: {reason}. Check the address "
                           "`ray start --head` printed and that the head node runs and is reachable, or leave out "
                           "--address to start a local cluster.") from None


def resource_problem(nodes: list[dict], cpus_per_run: int, gpus_per_run: float, where: str) -> Optional[str]:
    """Why no alive node of ``nodes`` (``ray.nodes()``) can run a task of this size; ``None`` if one can."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    if any(r.get("CPU", 0) >= cpus_per_run and r.get("GPU", 0) >= gpus_per_run for r in alive):
        return None
    most_gpus, most_cpus = (max((r.get(name, 0) for r in alive), default=0) for name in ("GPU", "CPU"))
    per_node = " on a node" if len(alive) > 1 else ""
    if gpus_per_run > most_gpus:
        has = "no GPU" if not most_gpus else f"{'at most ' if per_node else ''}{most_gpus:g} GPU{'s' * (most_gpus != 1)}{per_node}"
        return (f"--gpus-per-run {gpus_per_run:g} needs {'a GPU' if gpus_per_run <= 1 else f'{gpus_per_run:g} GPUs'} "
                f"on one node but the Ray cluster {where} has {has}, so no run would ever start. Use "
                "--gpus-per-run 0 to train on CPUs, or add GPU nodes (ray start --num-gpus N).")
    if cpus_per_run > most_cpus:
        return (f"--cpus-per-run {cpus_per_run} needs {cpus_per_run} CPUs on one node but the Ray cluster {where} "
                f"has {'at most ' if per_node else ''}{most_cpus:g}{per_node}, so no run would ever start. Use "
                f"--cpus-per-run {max(int(most_cpus), 1)} or less.")
    return (f"no node of the Ray cluster {where} has both {cpus_per_run} CPUs and {gpus_per_run:g} GPUs free for a "
            "run, so no run would ever start. Lower --cpus-per-run or --gpus-per-run.")


def _records_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"flair-munch-ray-{os.getuid()}"


def _alive(pid: int, started: float) -> bool:
    """Whether process ``pid`` runs and is the one created at ``started`` (not a later one with its pid)."""
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.Error:
        return False


def _in_session(process: psutil.Process, session_dir: str) -> bool:
    """Whether ``process`` belongs to the Ray session in ``session_dir``: named in its arguments, or writing its logs."""
    inside = session_dir.rstrip(os.sep) + os.sep
    try:
        if any(inside in arg or arg.endswith(session_dir) for arg in process.cmdline()):
            return True
        return process.name().startswith("ray::") and any(f.path.startswith(inside) for f in process.open_files())
    except psutil.Error:
        return False


class LocalClusterRecord:
    """A file naming a local Ray cluster this process started (its session folder), removed at its shutdown."""

    def __init__(self, session_dir: str, pid: Optional[int] = None) -> None:
        self.pid = pid or os.getpid()
        self.started = psutil.Process(self.pid).create_time()
        self.session_dir = session_dir
        self.path = _records_dir() / f"driver-{self.pid}.json"

    def write(self) -> "LocalClusterRecord":
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        self.path.write_text(json.dumps({"pid": self.pid, "started": self.started, "session_dir": self.session_dir}))
        return self

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def stop_leftovers(grace_s: float = 2.0) -> list[int]:
    """Stops the processes of local clusters whose recorded driver died (kill -9); returns their pids."""
    stopped = []
    folder = _records_dir()
    for path in sorted(folder.glob("driver-*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            pid, started, session_dir = int(record["pid"]), float(record["started"]), str(record["session_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing to find with it
            continue
        if _alive(pid, started):
            continue  # its driver still runs (another study): its cluster is in use
        uid = os.getuid()
        left = [p for p in psutil.process_iter() if p.pid != os.getpid() and _owned_by(p, uid)
                and _in_session(p, session_dir)]
        for process in left:
            _signal(process, "terminate")
        _, still = psutil.wait_procs(left, timeout=grace_s)
        for process in still:  # Ray's agents ignore SIGTERM
            _signal(process, "kill")
        psutil.wait_procs(still, timeout=grace_s)
        if left:
            log.warning("ray: stopped %d processes (pids %s) of the local cluster of a driver that died (pid %d, %s)",
                        len(left), ", ".join(str(p.pid) for p in left), pid, session_dir)
        stopped += [p.pid for p in left]
        path.unlink(missing_ok=True)
    return stopped


def _owned_by(process: psutil.Process, uid: int) -> bool:
    try:
        return process.uids().real == uid
    except psutil.Error:
        return False


def _signal(process: psutil.Process, how: str) -> None:
    try:
        getattr(process, how)()
    except psutil.Error:
        pass
