"""Variants that switch the model type or training keys (issue 36: attention fusion vs the plain model,
sentence weights on vs off, as rows of one study). Validation and run expansion only: nothing trains."""

import pytest

from flair_munch.cli import main
from flair_munch.recipes import RecipeError, load_recipe

FUSION = """\
name: fusion
output_dir: {out}
samples: true
embeddings: default-small
model: {{hidden_size: 16}}
corpora: {{ncbi-disease: null, bc5cdr-disease: null}}
targets: [ncbi-disease]
variants:
  plain: {{}}
  fusion: {{type: attention-fusion, attention_heads: 2}}
  plain +w: {{training: {{aux_sentence_weighting: 2}}}}
schedules: [single-aux]
training: {{max_epochs: 3}}
"""


def recipe_file(tmp_path, text: str = FUSION) -> str:
    path = tmp_path / "fusion.yaml"
    path.write_text(text.format(out=tmp_path / "study"))
    return str(path)


def test_a_variant_switches_the_model_type_or_training_keys_for_its_rows_only(tmp_path):
    recipe = load_recipe(recipe_file(tmp_path))
    plain, fusion, weighted = recipe.runs()
    assert recipe.variant_model("fusion") == {
        "type": "attention-fusion", "attention_heads": 2, "attention_dropout": 0.0, "tag_format": "BIOES",
        "hidden_size": 16, "rnn_layers": 1, "rnn_type": "LSTM", "reproject_embeddings": True, "dropout": 0.0,
        "word_dropout": 0.05, "locked_dropout": 0.5, "use_crf": True}  # no multi-head-only key (bidirectional)
    assert recipe.variant_model("plain +w") == recipe.model
    assert [r.settings().aux_sentence_weighting for r in (plain, fusion, weighted)] == [None, None, 2]
    assert [r.settings().max_epochs for r in (plain, fusion, weighted)] == [3, 3, 3]
    assert (fusion.row, fusion.baseline_row, weighted.baseline_row) == (
        "single-aux fusion", "single-aux plain", "single-aux plain")
    assert len({plain.run_id, fusion.run_id, weighted.run_id}) == 3
    without_variants = load_recipe(recipe_file(tmp_path, FUSION.split("variants:")[0] + "schedules: [single-aux]\n"
                                               "training: {{max_epochs: 3}}\n"))
    assert without_variants.runs()[0].run_id == plain.run_id  # a variant without changes is the same run


@pytest.mark.parametrize("variant, key, words", [
    ("{type: attention-fusoin}", "variants.fusion.type", ["unknown model type 'attention-fusoin'",
                                                          "Did you mean `attention-fusion`?"]),
    ("{type: attention-fusion, bidirectional: false}", "variants.fusion.bidirectional",
     ["unknown key `bidirectional`", "attention_heads"]),
    ("{type: ecttlner}", "variants.fusion.type", ["read `embeddings` differently", "two recipes"]),
    ("{training: {aux_sentence_weighting: -1}}", "variants.fusion.training.aux_sentence_weighting",
     ["must be a number >= 0 or null, got -1"]),
    ("{training: {max_epoch: 2}}", "variants.fusion.training.max_epoch", ["Did you mean `max_epochs`?"]),
])
def test_a_bad_variant_is_one_line_naming_its_key_and_exit_2(tmp_path, capsys, variant, key, words):
    path = recipe_file(tmp_path, FUSION.replace("{{type: attention-fusion, attention_heads: 2}}",
                                                variant.replace("{", "{{").replace("}", "}}")))
    with pytest.raises(RecipeError):
        load_recipe(path)
    assert main(["run", path, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and "Traceback" not in err
    for word in [f"fusion.yaml:10: {key}:", *words]:
        assert word in err, (word, err)
    assert not (tmp_path / "study").exists()  # nothing written
