"""One address for every run: the ids and folders the trainer and a study's plan use are the same, and today's
(the committed studies are found by them: a changed id or folder name means those runs train again)."""

from pathlib import Path
from types import SimpleNamespace

from flair_munch.recipes.recipe import RunSpec, ScheduleSpec
from flair_munch.study.jobs import peer_run_ids, prerequisite_directory, run_directory
from flair_munch.training.address import RunAddress
from flair_munch.training.identity import IdentityBasis
from flair_munch.training.planning import PlanningContext
from flair_munch.training.schedules import SingleAux, SingleTask

BASIS = IdentityBasis({"tgt": {"train_size": 100}, "a": {}, "b": {}}, {"type": "multi-head"})
SPEC = RunSpec("tgt", ("a", "b"), ScheduleSpec("single-aux-best"), 0.1, 8, 3, basis=BASIS,
               training={"max_epochs": 2})
OUT = Path("study")
# computed by the rules before issue 32 (study_plan.run_directory, planning.sub_run_path, peer_result)
RUN_ID, FINAL_ID, PEER_ID = "2bc440bb4b8f", "a28a9baa37ee", "cf576c9b5aa1"
PREREQUISITES = {"a": "97fb078d6813", "b": "ef23ba7ab44d"}


def test_a_run_and_its_train_and_dev_run_keep_todays_ids_and_folders():
    run, final = run_directory(OUT, SPEC), run_directory(OUT, SPEC, final=True)
    assert (run.run_id, run.path) == (RUN_ID, OUT / "runs" / RUN_ID) and RUN_ID == SPEC.run_id
    assert (final.run_id, final.path) == (FINAL_ID, OUT / "runs" / FINAL_ID) and FINAL_ID == SPEC.final_run_id


def test_a_prerequisite_folder_holds_its_run_id_without_parsing_the_name():
    for corpus, run_id in PREREQUISITES.items():
        directory = prerequisite_directory(OUT, SPEC, corpus)
        single_aux = SPEC.identity().of(SingleAux(corpus).settings(), [corpus],
                                        SPEC.settings(evaluate_dev=True).identity())
        assert directory.run_id == run_id == single_aux.run_id
        assert directory.path == OUT / "shared-runs" / f"single-aux_tgt_{corpus}_{run_id}"


def test_a_peer_is_found_beside_the_run_under_its_own_id():
    peer = RunAddress.of_peer(OUT / "runs" / RUN_ID, SPEC.identity(), SingleTask(), SPEC.settings())
    assert (peer.run_id, peer.path) == (PEER_ID, OUT / "runs" / PEER_ID)
    assert peer_run_ids(OUT, SPEC) == []  # single-aux-best reads prerequisites, no peer


def test_the_trainer_trains_sub_runs_and_peers_where_the_study_looks_for_them():
    asked = []
    corpora = {name: SimpleNamespace(train=[1, 2, 3], dev=[4]) for name in ("tgt", "a", "b")}
    ctx = PlanningContext(corpora=corpora, train_sub_run=lambda *args: asked.append(args[3]) or "result",
                          identity=SPEC.identity(), settings=SPEC.settings(), run_dir=OUT / "runs" / RUN_ID,
                          schedule=SPEC.schedule.build(), cache_dir=OUT / "shared-runs")
    assert ctx.prerequisite("a") == ctx.peer_result(SingleTask()) == "result"
    assert asked == [prerequisite_directory(OUT, SPEC, "a").path, OUT / "runs" / PEER_ID]
