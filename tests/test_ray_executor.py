"""The Ray executor on real Ray clusters: same results as the sequential executor, two nodes with one killed,
the driver killed and restarted. Ray is part of the dev extra; these tests start and stop every Ray process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

from flair_munch.recipes import load_recipe  # noqa: E402
from flair_munch.study.driver import run_study  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.integration]

SCENARIOS = Path(__file__).with_name("ray_scenarios.py")
# one target, two aux corpora, and both kinds of prerequisite: SingleAux-best and a dev-sorted order
RECIPE = """\
name: tiny-ray
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
embedding_store: {store}
model: {{hidden_size: 32}}
dev_size: 30
corpora:
  ncbi-disease: {{train_size: 60}}
  s800: {{train_size: 30}}
  bc5cdr-disease: {{train_size: 30}}
targets: [ncbi-disease]
schedules:
  - single-task
  - single-aux-best
  - munch-iter: {{order: dev-sorted}}
grid: {{learning_rate: [0.1], mini_batch_size: [4]}}
training: {{max_epochs: 3}}
seeds: {seeds}
"""


def write_recipe(tmp_path: Path, name: str, seeds="[1]") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(RECIPE.format(out=tmp_path / name, store=tmp_path / "store", seeds=seeds))
    return path


def comparable(study: Path) -> list[dict]:
    """The records without what may differ between executors: timing, folders, node."""
    rows = []
    for line in (study / "results.jsonl").read_text().splitlines():
        record = {k: v for k, v in json.loads(line).items() if k not in ("seconds", "run_dir", "node")}
        record["history"] = [{k: v for k, v in row.items() if k != "seconds"} for row in record["history"]]
        rows.append(record)
    return rows


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The sequential executor's records of the one- and two-seed studies, with one torch thread (as a Ray run).

    The one-seed study's records are the two-seed study's seed-1 rows, in order (a run's id, and so its
    results, never depend on the other seeds), so only the two-seed study is trained here.
    """
    tmp_path = tmp_path_factory.mktemp("sequential")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_study(load_recipe(write_recipe(tmp_path, "two", "[1, 2]")), progress=False)
    finally:
        torch.set_num_threads(threads)
    two = comparable(tmp_path / "two")
    return {"one": [record for record in two if record["seed"] == 1], "two": two}


def test_local_ray_cluster_gives_the_sequential_results_run_for_run(tmp_path, sequential):
    from flair_munch.execution.ray_executor import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        status = run_study(load_recipe(write_recipe(tmp_path, "one")), progress=False, executor=RayExecutor(workers=2))
    finally:
        ray.shutdown()
    assert (status.done, status.total) == (3, 3)
    assert comparable(tmp_path / "one") == sequential["one"]  # test F1, dev F1, updates, every loss: to the last digit
    records = [json.loads(line) for line in (tmp_path / "one" / "results.jsonl").read_text().splitlines()]
    assert all(record["node"] and "/" in record["node"] for record in records)  # host/Ray node of each run
    chosen = [r for r in records if r["schedule"] == "single-aux-best"][0]
    assert len(list((tmp_path / "one" / "shared-runs").glob("single-aux_*"))) == 2  # each prerequisite once
    assert chosen["aux"] == ["s800", "bc5cdr-disease"] and chosen["test"] is not None


def scenario(tmp_path: Path, mode: str, recipe: Path) -> dict:
    summary = tmp_path / f"{mode}.json"
    out = tmp_path / recipe.stem
    command = f"ip link set lo up && exec {sys.executable} {SCENARIOS} {mode} {recipe} {summary} {out}"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a loopback-only network namespace (unshare -n): {probe.stderr.decode().strip()}")
    subprocess.run(["unshare", "-n", "sh", "-c", command], env={**os.environ, "PYTHONPATH": str(Path.cwd())},
                   timeout=300, check=False)
    result = json.loads(summary.read_text())
    log = (tmp_path / "driver.log").read_text()[-3000:] if (tmp_path / "driver.log").is_file() else ""
    assert result["rc"] == 0, log
    assert result["leftover"] == [], "Ray processes survived the cleanup"
    return result


def test_two_nodes_one_killed_mid_study_finish_every_run_once_with_the_same_table(tmp_path, sequential):
    result = scenario(tmp_path, "two-node", write_recipe(tmp_path, "two", "[1, 2]"))
    assert result["killed"], "the worker node was never killed mid-run: the scenario tested nothing"
    records = [json.loads(line) for line in (tmp_path / "two" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["run_id"] for r in records) == sorted({r["run_id"] for r in records}) and len(records) == 6
    nodes = {result["head_node"][:8], result["worker_node"][:8]}
    assert {r["node"].rsplit("/", 1)[1] for r in records} <= nodes  # each record says which node ran it
    assert all(result["jobs_per_node"][node] > 0 for node in nodes)  # both nodes ran jobs
    assert result["resumed"], "the run on the killed node did not resume from its checkpoint"
    assert comparable(tmp_path / "two") == sequential["two"]


def test_driver_killed_mid_study_and_restarted_gives_the_same_table(tmp_path, sequential):
    result = scenario(tmp_path, "driver-kill", write_recipe(tmp_path, "one"))
    assert result["killed"] and 1 <= result["killed_at"] < 3, result  # killed after one run, before the last
    assert comparable(tmp_path / "one") == sequential["one"]
