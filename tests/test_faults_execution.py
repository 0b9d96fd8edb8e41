"""Execution faults that used to hang or pass silently: each now fails fast with one line (issue 31, items 5-9).

A huge ``aux_ratio``, a Ray task that no node can run, an address with no cluster, and the processes
a killed driver's local cluster left behind. Every former hang runs under a timeout (``signal.alarm``
where the wait is Python code, a subprocess where it is Ray's C++ connect); every process a test
starts is stopped by pid.
"""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from flair_munch.cli import main

RECIPE = """\
name: faults
output_dir: {out}
samples: true
device: cpu
model: {{hidden_size: 16}}
corpora:
  ncbi-disease: {{train_size: 20}}
  s800: {{train_size: 20}}
targets: [ncbi-disease]
schedules:
  - single-aux: {{aux_ratio: {ratio}}}
training: {{max_epochs: 1}}
{extra}"""
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def write_recipe(tmp_path: Path, ratio="1", extra="") -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", ratio=ratio, extra=extra))
    return path


@contextmanager
def within(seconds: int):
    """Fails the test (instead of hanging the suite) when the block runs longer than ``seconds``."""
    def fail(*_):
        raise TimeoutError(f"still running after {seconds} s: the former hang is back")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("ratio", ["1e9", "0.0000001"])
def test_an_aux_ratio_out_of_range_fails_the_dry_run_and_the_run_naming_the_key(tmp_path, capsys, ratio):
    path = write_recipe(tmp_path, ratio)
    with within(60):
        for argv in (["run", str(path), "--dry-run"], ["run", str(path), "--no-progress"]):
            assert main(argv) == 2
            err = one_error_line(capsys)
            assert "recipe.yaml:11: schedules[0].single-aux.aux_ratio: aux_ratio must be between 0.001 and 100" in err
            assert "ITER x (1 + aux_ratio) steps" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, words", [
    (["--executor", "ray", "--workers", "0"], "--workers: expected a positive number of workers, got 0."),
    (["--executor", "ray", "--address", "nohost"], "--address: expected auto or HOST:PORT, got 'nohost'."),
    (["--workers", "2"], "--workers 2: applies to the Ray executor only, and this study runs sequentially. "
                         "Add --executor ray, or leave out --workers."),
    (["--gpus-per-run", "0.3"], "--gpus-per-run 0.3: applies to the Ray executor only"),
], ids=["workers-0", "bad-address", "workers-sequential", "gpus-sequential"])
def test_bad_or_ignored_executor_flags_fail_the_dry_run_naming_the_flag(tmp_path, capsys, flags, words):
    assert main(["run", str(write_recipe(tmp_path)), "--dry-run", *flags]) == 2
    assert words in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_ray_keys_of_a_recipe_run_sequentially_are_one_warning_line(tmp_path, capsys):
    path = write_recipe(tmp_path, extra="execution: {executor: ray, workers: 2}\n")
    assert main(["run", str(path), "--dry-run", "--executor", "sequential"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == ("flair-munch: warning: execution.workers (2) is ignored: the sequential executor trains one run at "
                   "a time in this process; run with --executor ray to use it.")


def test_an_address_without_a_cluster_fails_in_seconds_naming_it(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    command = [sys.executable, "-m", "flair_munch.cli", "run", str(write_recipe(tmp_path)), "--executor", "ray",
               "--address", "127.0.0.1:1", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **RAY_ENV})
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("flair-munch: error: --address 127.0.0.1:1: no Ray cluster answers there"), last
    assert "connection refused" in last and "leave out --address" in last
    assert not (tmp_path / "out").exists()


def test_gpus_per_run_that_no_node_has_fails_before_anything_is_written(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    import torch

    import flair_munch.execution.ray_cluster as cluster

    if torch.cuda.device_count() >= 8:
        pytest.skip("this machine has a node with 8 GPUs: every --gpus-per-run fits")
    gpus = "0.3" if not torch.cuda.is_available() else "8"
    monkeypatch.setattr(cluster, "_records_dir", lambda: tmp_path / "records")
    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    with within(180):  # before: `running 0 ... waiting 2` for ever
        code = main(["run", str(write_recipe(tmp_path)), "--executor", "ray", "--workers", "1", "--gpus-per-run", gpus,
                     "--no-progress"])
    assert code == 2 and not ray.is_initialized()
    err = one_error_line(capsys)
    assert err.startswith(f"flair-munch: error: --gpus-per-run {gpus} needs ") and "on this machine has " in err, err
    assert "so no run would ever start" in err and "--gpus-per-run 0" in err
    assert not (tmp_path / "out").exists() and list((tmp_path / "records").iterdir()) == []  # cluster shut down


def resource_problem(nodes, cpus=1, gpus=0.0):
    from flair_munch.execution.ray_cluster import resource_problem as problem

    return problem([{"Alive": alive, "Resources": r} for alive, r in nodes], cpus, gpus, "at head:6379")


def test_resources_are_checked_per_alive_node():
    cpu_box, gpu_box, dead_big = (True, {"CPU": 4.0}), (True, {"CPU": 2.0, "GPU": 1.0}), (False, {"CPU": 64.0, "GPU": 8.0})
    assert resource_problem([cpu_box, gpu_box], cpus=2, gpus=0.25) is None
    assert resource_problem([cpu_box, dead_big], cpus=8) == (
        "--cpus-per-run 8 needs 8 CPUs on one node but the Ray cluster at head:6379 has 4, so no run would ever "
        "start. Use --cpus-per-run 4 or less.")
    assert "has at most 1 GPU on a node" in resource_problem([cpu_box, gpu_box, dead_big], gpus=2)
    assert "has both 4 CPUs and 1 GPUs" in resource_problem([cpu_box, gpu_box], cpus=4, gpus=1)


def sleeper(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *args])


def record(folder: Path, pid: int, started: float, session: Path) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"driver-{pid}.json"
    path.write_text(json.dumps({"pid": pid, "started": started, "session_dir": str(session)}))
    return path


def test_leftovers_of_a_dead_driver_are_stopped_and_a_live_drivers_kept(tmp_path, monkeypatch):
    import flair_munch.execution.ray_cluster as cluster

    monkeypatch.setattr(cluster, "_records_dir", lambda: tmp_path / "records")
    dead_session, live_session = tmp_path / "session_dead_1", tmp_path / "session_live_1"
    driver = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(driver.pid).create_time()
    driver.wait()  # the driver is gone (as after kill -9); its cluster's processes are not
    orphan, kept = sleeper(f"--log_dir={dead_session}/logs"), sleeper(f"--log_dir={live_session}/logs")
    try:
        dead = record(tmp_path / "records", driver.pid, started, dead_session)
        live = record(tmp_path / "records", os.getpid(), psutil.Process().create_time(), live_session)
        assert cluster.stop_leftovers(grace_s=1) == [orphan.pid]
        assert orphan.wait(timeout=10) is not None and kept.poll() is None
        assert not dead.exists() and live.exists()
    finally:
        for process in (orphan, kept):
            process.kill()
            process.wait()


def session_processes(session: str) -> list[int]:
    from flair_munch.execution.ray_cluster import _in_session

    return [p.pid for p in psutil.process_iter() if p.pid != os.getpid() and _in_session(p, session)]


DRIVER = """\
import sys, time
from pathlib import Path
import flair_munch.execution.ray_cluster as cluster
from flair_munch.execution.ray_executor import RayExecutor
cluster._records_dir = lambda: Path(sys.argv[1])
RayExecutor(workers=1).connect()
time.sleep(300)
"""


@pytest.mark.ray
def test_a_local_cluster_left_by_a_driver_killed_with_kill_9_is_stopped_by_the_next_start(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    import flair_munch.execution.ray_cluster as cluster

    records = tmp_path / "records"
    monkeypatch.setattr(cluster, "_records_dir", lambda: records)
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(records)], env={**os.environ, **RAY_ENV})
    session = None
    try:
        deadline = time.time() + 150
        while session is None and time.time() < deadline and driver.poll() is None:
            time.sleep(0.5)
            found = list(records.glob("driver-*.json")) if records.is_dir() else []
            session = json.loads(found[0].read_text())["session_dir"] if found else None
        assert session, "the driver never recorded its local cluster"
        driver.kill()  # kill -9: no ray.shutdown
        driver.wait()
        time.sleep(2)  # what dies with the driver has died
        left = session_processes(session)  # Ray's agents, idle workers (issue 31 also saw _RunningBoard)
        assert set(cluster.stop_leftovers(grace_s=1)) <= set(left)
        assert session_processes(session) == [] and list(records.iterdir()) == []
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for pid in session_processes(session) if session else []:
            psutil.Process(pid).kill()
