"""Recipe schema: a study's YAML is validated, with file and line in every error, before anything trains."""

import pytest

from flair_munch.recipes import Recipe, RecipeError, RunSpec, ScheduleSpec, check_data, load_recipe
from flair_munch.training.schedules import MunchIter

VALID = """\
name: quickstart
output_dir: runs/quickstart
samples: true
corpora:
  ncbi-disease: {train_size: 1000}
  BC5CDR-chem: {train_size: "10%"}
  s800:
targets: [ncbi-disease]
aux:
  ncbi-disease: [bc5cdr-chem, s800]
schedules:
  - single-task
  - munch-conc
  - {munch-iter: {order: dev-sorted}}
training:
  max_epochs: 20
grid:
  learning_rate: [0.1, 0.05]
  mini_batch_size: [16, 32]
seeds: [1, 2]
"""


def write(tmp_path, text: str, name: str = "study.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(path: str, overrides=()) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides)
    return info.value


def test_valid_recipe_expands_to_cross_product(tmp_path):
    recipe = load_recipe(write(tmp_path, VALID))
    assert isinstance(recipe, Recipe)
    assert list(recipe.corpora) == ["ncbi-disease", "bc5cdr-chem", "s800"]  # registry names, normalised
    assert recipe.corpora["s800"]["seed"] == 42  # load_corpus defaults filled
    assert recipe.training["max_epochs"] == 20 and recipe.training["patience"] == 4
    runs = recipe.runs()
    assert len(runs) == 1 * 3 * 4 * 2
    assert all(isinstance(run, RunSpec) and run.aux == ("bc5cdr-chem", "s800") for run in runs)
    assert len({run.run_id for run in runs}) == len(runs)
    assert all(len(run.run_id) == 12 for run in runs)
    assert [(r.schedule.name, r.seed, r.learning_rate, r.mini_batch_size) for r in runs[:5]] == [
        ("single-task", 1, 0.1, 16), ("single-task", 1, 0.1, 32), ("single-task", 1, 0.05, 16),
        ("single-task", 1, 0.05, 32), ("single-task", 2, 0.1, 16)]
    assert runs[-1].schedule.label == "munch-iter(order=dev-sorted)"
    assert "munch-iter(order=dev-sorted)" in runs[-1].label
    schedule = runs[-1].schedule.build()
    assert isinstance(schedule, MunchIter) and schedule.order == "dev-sorted"
    assert recipe.to_dict()["schedules"] == ["single-task", "munch-conc", {"munch-iter": {"order": "dev-sorted"}}]


def test_run_ids_are_stable_and_follow_settings(tmp_path):
    path = write(tmp_path, VALID)
    ids = [run.run_id for run in load_recipe(path).runs()]
    assert ids == [run.run_id for run in load_recipe(path).runs()]
    changed = load_recipe(write(tmp_path, VALID.replace("max_epochs: 20", "max_epochs: 21"), "other.yaml"))
    assert set(ids).isdisjoint(run.run_id for run in changed.runs())
    explicit_default = load_recipe(path, ["corpora.s800.seed=42"])
    assert ids == [run.run_id for run in explicit_default.runs()]


def test_dev_size_cuts_every_dev_split_and_stays_out_of_unchanged_run_ids(tmp_path):
    path = write(tmp_path, VALID)
    ids = [run.run_id for run in load_recipe(path).runs()]
    cut = load_recipe(path, ["dev_size=50", "corpora.s800.dev_size=20"])
    assert cut.corpus_options("ncbi-disease", True)["dev_size"] == 50 and cut.corpus_options("s800", False)["dev_size"] == 20
    assert set(ids).isdisjoint(run.run_id for run in cut.runs())
    assert [len(corpus.dev) for corpus in cut.load_corpora("ncbi-disease", ("bc5cdr-chem", "s800"))] == [50, 50, 20]
    error = error_of(write(tmp_path, VALID.replace("seeds: [1, 2]", "seeds: [1, 2]\ndev_size: -3"), "bad.yaml"))
    assert "bad.yaml:21: dev_size: " in str(error) and "at least 1" in str(error)


def test_set_overrides_change_the_recipe(tmp_path):
    path = write(tmp_path, VALID)
    recipe = load_recipe(path, ["training.max_epochs=3", "seeds=[7]", "samples=false", "grid.learning_rate=[0.2]"])
    assert recipe.training["max_epochs"] == 3 and recipe.seeds == [7] and recipe.samples is False
    assert recipe.grid == {"learning_rate": [0.2], "mini_batch_size": [16, 32]}
    assert len(recipe.runs()) == 3 * 2


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, VALID.replace("samples: true", "sample: true"))
    error = error_of(path)
    assert f"{path}:3: sample: unknown key `sample`" in str(error)
    assert "Did you mean `samples`?" in str(error) and "test_with_dev" in str(error)
    assert (error.file, error.line, error.key) == (path, 3, "sample")


def test_misspelled_nested_key_suggests_the_fix(tmp_path):
    path = write(tmp_path, VALID.replace("max_epochs: 20", "max_epoch: 20"))
    message = str(error_of(path))
    assert f"{path}:16: training.max_epoch: unknown key" in message
    assert "Did you mean `max_epochs`?" in message and "patience" in message


def test_moved_training_key_says_where_it_goes(tmp_path):
    path = write(tmp_path, VALID.replace("max_epochs: 20", "max_epochs: 20\n  learning_rate: 0.1"))
    assert f"{path}:17: training.learning_rate: unknown key `learning_rate`. Set it with `grid.learning_rate`" in str(
        error_of(path))


@pytest.mark.parametrize("old, new, line, key, expected", [
    ("seeds: [1, 2]", 'seeds: "1"', 20, "seeds", "expected int or a list of int, got '1'"),
    ("learning_rate: [0.1, 0.05]", "learning_rate: fast", 18, "grid.learning_rate", "got 'fast'"),
    ("max_epochs: 20", "max_epochs: many", 16, "training.max_epochs", "expected int, got 'many'"),
    ("{train_size: 1000}", "{train_size: lots}", 5, "corpora.ncbi-disease.train_size", "not a number"),
])
def test_wrong_types(tmp_path, old, new, line, key, expected):
    path = write(tmp_path, VALID.replace(old, new))
    error = error_of(path)
    assert f"{path}:{line}: {key}: " in str(error) and expected in str(error)
    assert (error.line, error.key) == (line, key)


def test_unknown_schedule_lists_valid_names(tmp_path):
    path = write(tmp_path, VALID.replace("  - munch-conc", "  - munch-cnoc"))
    message = str(error_of(path))
    assert f"{path}:13: schedules[1]: unknown schedule `munch-cnoc`" in message
    assert "Did you mean `munch-conc`?" in message and "single-aux-best" in message and "munch-stack" in message


@pytest.mark.parametrize("schedule, expected", [
    ("{munch-iter: {ordr: dev-sorted}}", "schedules[2].munch-iter.ordr: unknown key `ordr`. Did you mean `order`?"),
    ("{munch-iter: {order: sorted}}", "schedules[2].munch-iter.order: unknown order 'sorted'. Did you mean `dev-sorted`?"),
    ("{munch-iter: {order: [s800]}}", "does not list each auxiliary corpus of `ncbi-disease` exactly once"),
    ("{munch-conc: {order: given}}", "schedules[2].munch-conc.order: unknown key `order`"),
    ("single-aux", "single-aux needs one auxiliary corpus"),
    ("pretrain-finetune", "pretrain-finetune needs one source corpus; `ncbi-disease` has ['bc5cdr-chem', 's800']"),
    ("{pretrain-finetune: {source: NCBI-disease}}",
     "schedules[2].pretrain-finetune.source: `ncbi-disease` is not an auxiliary corpus of `ncbi-disease`"),
    ("{matched-single-task: {match: matched-single-task}}",
     "schedules[2].matched-single-task.match: a control cannot match a control"),
])
def test_bad_schedule_options(tmp_path, schedule, expected):
    path = write(tmp_path, VALID.replace("{munch-iter: {order: dev-sorted}}", schedule))
    message = str(error_of(path))
    assert f"{path}:14: " in message and expected in message


def test_explicit_order_is_normalised(tmp_path):
    text = VALID.replace("{order: dev-sorted}", "{order: [S800, BC5CDR-chem]}")
    spec = load_recipe(write(tmp_path, text)).schedules[-1]
    assert spec == ScheduleSpec("munch-iter", {"order": ["s800", "bc5cdr-chem"]})
    assert spec.label == "munch-iter(order=[s800,bc5cdr-chem])"


def test_target_not_in_corpora(tmp_path):
    path = write(tmp_path, VALID.replace("targets: [ncbi-disease]", "targets: [ncbi-disease, bc2gm]"))
    message = str(error_of(path))
    assert f"{path}:8: targets[1]: `bc2gm` is not a key of `corpora`" in message
    assert "ncbi-disease, bc5cdr-chem, s800" in message


def test_unknown_corpus_name_suggests_registry_names(tmp_path):
    path = write(tmp_path, VALID.replace("  s800:", "  s-800:").replace("bc5cdr-chem, s800]", "bc5cdr-chem]"))
    message = str(error_of(path))
    assert f"{path}:7: corpora.s-800: unknown corpus `s-800`" in message
    assert "Did you mean `s800`" in message and "bc4chemd" in message


def test_several_problems_in_one_error(tmp_path):
    path = write(tmp_path, VALID.replace("samples: true", "sample: true").replace("max_epochs", "max_epoch"))
    lines = str(error_of(path)).splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{path}:3", f"{path}:16"]


def test_bad_set_key_names_the_override(tmp_path):
    path = write(tmp_path, VALID)
    error = error_of(path, ["training.max_epoch=3"])
    assert f"{path} (--set training.max_epoch=3): training.max_epoch: unknown key" in str(error)
    assert "Did you mean `max_epochs`?" in str(error) and error.line is None
    assert "--set seeds=x" in str(error_of(path, ["seeds=x"]))
    assert "not a `key=value` override" in str(error_of(path, ["seeds"]))


def test_check_data_names_missing_files(tmp_path):
    data = tmp_path / "data"
    (data / "NCBI-disease").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (data / "NCBI-disease" / f"{split}.tsv").write_text("Aspirin\tO\n", encoding="utf-8")
    text = VALID.replace("samples: true", f"data_dir: {data}").replace("  s800:", "  bc4chemd:")
    path = write(tmp_path, text.replace("bc5cdr-chem, s800]", "bc5cdr-chem, bc4chemd]"))
    recipe = load_recipe(path)  # the schema never touches the data
    with pytest.raises(RecipeError) as info:
        check_data(recipe)
    message = str(info.value)
    assert f"{path}:6: corpora.bc5cdr-chem: corpus not found" in message
    assert f"{path}:7: corpora.bc4chemd: corpus not found" in message
    assert str(data / "BC4CHEMD" / "train.tsv") in message and "ncbi-disease:" not in message


VARIANTS = """\
name: ablation
output_dir: runs/ablation
samples: true
embeddings: default
model: {type: ecttlner, w: 0.3}
corpora:
  ncbi-disease: null
targets: [ncbi-disease]
target_train_size: [100, all]
variants:
  baseline: {tasks: []}
  +tie: {tasks: [tie]}
  +all w=0.5: {w: 0.5}
schedules: [single-task]
seeds: [1, 2]
"""


def test_sizes_and_variants_are_study_dimensions_with_their_own_baseline(tmp_path):
    recipe = load_recipe(write(tmp_path, VARIANTS))
    runs = recipe.runs()
    assert len(runs) == 2 * 3 * 2
    assert [(r.row, r.baseline_row, r.seed) for r in runs[:3]] == [
        ("single-task n=100 baseline", "single-task n=100 baseline", 1),
        ("single-task n=100 baseline", "single-task n=100 baseline", 2),
        ("single-task n=100 +tie", "single-task n=100 baseline", 1)]
    assert runs[-1].row == "single-task n=all +all w=0.5" and runs[-1].train_size is None
    assert recipe.variant_model("+tie") == {**recipe.model, "tasks": ["tie"]}
    assert recipe.variant_model("+all w=0.5")["tasks"] == ("sce", "sen", "tie", "tbl")  # the model's default
    assert recipe.corpus_options("ncbi-disease", True, 100)["train_size"] == 100
    assert recipe.corpus_options("ncbi-disease", True, None)["train_size"] is None
    assert len({r.run_id for r in runs}) == len(runs)


@pytest.mark.parametrize("old, new, key, expected", [
    ("model: {type: ecttlner, w: 0.3}", "model: {type: ecttler}", "model.type",
     "unknown model type 'ecttler'. Did you mean `ecttlner`?"),
    ("model: {type: ecttlner, w: 0.3}", "model: {type: ecttlner, pooling: max}", "model.pooling",
     "unknown key `pooling`"),
    ("  +tie: {tasks: [tie]}", "  +tie: {tasks: [tie], hidden: 3}", "variants.+tie.hidden",
     "Did you mean `hidden_size`?"),
    ("target_train_size: [100, all]", "target_train_size: [100, lots]", "target_train_size[1]", "not a number"),
])
def test_bad_model_variant_and_size_keys(tmp_path, old, new, key, expected):
    error = error_of(write(tmp_path, VARIANTS.replace(old, new)))
    assert f": {key}: " in str(error) and expected in str(error)


@pytest.mark.parametrize("name", ["quickstart", "munchables", "munchables-lowres", "munchables-cpu", "ecttlner-ablation",
                                  "transfer-matrix", "transfer-matrix-pilot", "mt-biobert", "crossner", "ecttlner-cpu",
                                  "ecttlner-cpu-targets", "mt-biobert-cpu", "attention-fusion-cpu", "crossner-cpu",
                                  "crossner-cpu-dissimilar", "crossner-cpu-labels", "crossner-cpu-uncertainty"])
def test_shipped_recipes_are_valid(name):
    from pathlib import Path

    recipe = load_recipe(Path(__file__).parents[1] / "recipes" / f"{name}.yaml")
    assert recipe.runs()


OWN = """\
name: own
output_dir: out
corpora:
  {key}: {options}
  ncbi-disease: null
targets: [{target}]
schedules: [single-task]
"""


def test_a_folder_corpus_is_named_by_its_folder_and_read_relative_to_the_recipe(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "MyCorpus"
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text("Aspirin\tB-Chemical\ncauses\tO\n\n")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # relative paths are read from the recipe's folder, not from here
    ids = []
    for key, target in (("../data/MyCorpus", "MyCorpus"), (str(folder), str(folder)), ("MyCorpus", "MyCorpus")):
        if key == "MyCorpus":
            monkeypatch.setenv("FLAIR_MUNCH_DATA", str(tmp_path / "data"))  # a folder inside the data dir, by name
        path = tmp_path / "recipes" / "own.yaml"
        path.write_text(OWN.format(key=key, options="{train_size: 1}", target=target))
        recipe = load_recipe(path)
        assert list(recipe.corpora)[0] == "MyCorpus" and recipe.targets == ["MyCorpus"]
        assert recipe.corpus_paths == {"MyCorpus": str(folder.resolve())}
        assert recipe.load_corpora("MyCorpus", [])[0].name == "MyCorpus"
        ids.append(recipe.runs()[0].run_id)
    assert len(set(ids)) == 1  # however the path is spelled: one run id, no path in it
    path.write_text(OWN.format(key="../data/MyCorpus", options="{name: mine}", target="mine"))
    assert list(load_recipe(path).corpora)[0] == "mine"
    path.write_text(OWN.format(key="../data/Nope", options="null", target="Nope"))
    with pytest.raises(RecipeError, match="relative paths are read from the recipe's folder"):
        load_recipe(path)


def test_path_gives_the_folder_of_a_corpus_named_by_its_key_with_unchanged_run_ids(tmp_path, monkeypatch):
    folder = tmp_path / "corpora" / "AnatEM"
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text(f"Aspirin\tB-Chemical\n{split}\tO\n\n")
    (tmp_path / "recipes").mkdir()
    monkeypatch.chdir(folder)  # relative paths are read from the recipe's folder, as for a folder key
    monkeypatch.setattr(Recipe, "embeddings_identity", lambda self, model_type: ["default"])  # not loaded: quick
    path = tmp_path / "recipes" / "own.yaml"
    path.write_text(OWN.format(key="anatem", options="{path: ../corpora/AnatEM, train_size: 1}", target="anatem"))
    recipe = load_recipe(path)
    assert recipe.corpora["anatem"]["train_size"] == 1 and "path" not in recipe.corpora["anatem"]
    assert recipe.corpus_paths == {"anatem": str(folder.resolve())}
    assert recipe.load_corpora("anatem", [])[0].name == "anatem"
    path.write_text(OWN.format(key="../corpora/AnatEM", options="{name: anatem, train_size: 1}", target="anatem"))
    assert [run.run_id for run in load_recipe(path).runs()] == [run.run_id for run in recipe.runs()]
    for options, expected in (
            ("{path: ../corpora/Nope}", "own.yaml:4: corpora.anatem.path: corpus folder `../corpora/Nope` does not exist"),
            ("{path: ../corpora/AnatEM, name: x}", "own.yaml:4: corpora.anatem.name: `name:` and `path:` both given"),
            ("{train_size: 1}", "unknown corpus `anatem`: not a registered name and not an existing folder. Valid "
                                "names: bc2gm")):
        path.write_text(OWN.format(key="anatem", options=options, target="anatem"))
        assert expected in str(error_of(str(path))), options
    assert "give its folder with `path:` (`anatem: {path: FOLDER}`" in str(error_of(str(path)))


@pytest.mark.parametrize("section, key, expected", [
    ("{executor: dask}", "execution.executor", "unknown executor 'dask'. Choose one of: sequential, ray"),
    ("{executor: ray, workers: 0}", "execution.workers", "expected a positive number of workers, got 0"),
    ("{gpus_per_run: -0.5}", "execution.gpus_per_run", "expected GPUs per run between 0 and 8"),
    ("{address: headnode}", "execution.address", "expected auto or HOST:PORT, got 'headnode'"),
    ("{workerz: 2}", "execution.workerz", "unknown key `workerz`. Did you mean `workers`?"),
])
def test_bad_execution_keys_name_file_line_and_key(tmp_path, section, key, expected):
    path = write(tmp_path, VALID + f"execution: {section}\n")
    error = error_of(path)
    assert f"{path}:21: {key}: {expected}" in str(error), str(error)


def test_execution_keys_are_read_and_stay_out_of_run_ids(tmp_path):
    plain = load_recipe(write(tmp_path, VALID))
    ray_recipe = load_recipe(write(tmp_path, VALID + "execution: {executor: ray, workers: 2, gpus_per_run: 0.25}\n",
                                   "ray.yaml"))
    assert (ray_recipe.execution.executor, ray_recipe.execution.workers, ray_recipe.execution.gpus_per_run) == (
        "ray", 2, 0.25)
    assert plain.execution.executor == "sequential"
    assert [spec.run_id for spec in ray_recipe.runs()] == [spec.run_id for spec in plain.runs()]
