"""A built wheel, installed non-editable, finds the shipped resources (samples, default embeddings with the MiniLM package, label maps)."""

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What a wheel is built from; copied so the build's build/ and *.egg-info stay out of the checkout.
SOURCES = ("flair_munch", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md")

CHECK = """
import json
import flair_munch
from flair.data import Sentence
from flair_munch.corpora import load_corpus, shipped_label_maps
from flair_munch.embeddings import load_embeddings
from flair_munch.resources import resources_dir

corpus = load_corpus("ncbi-disease", samples=True)
embeddings = load_embeddings("default")
sentence = Sentence("Familial hypercholesterolemia is an inherited disorder .")
embeddings.embed(sentence)
print("RESULT", json.dumps({
    "file": flair_munch.__file__,
    "resources": str(resources_dir()),
    "splits": [len(corpus.train), len(corpus.dev), len(corpus.test)],
    "entities": sum(len(s.get_spans("ner")) for s in corpus.train),
    "label_maps": list(shipped_label_maps()),
    "length": embeddings.embedding_length,
    "vector": list(sentence[0].embedding.shape),
}))
"""


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _venv_seeing_these_packages(env_dir: Path) -> Path:
    """A bare venv that sees the packages of the interpreter running the tests, nothing downloaded.

    ``system_site_packages`` would show the *base* interpreter's packages, which inside a user's virtualenv lack
    flair and torch; so the running interpreter's site-packages are listed in a ``.pth`` file instead. Plain path
    lines add the folders without running their own ``.pth`` files, so the checkout's editable install stays out.
    """
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    ours = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    (Path(purelib) / "_parent_site_packages.pth").write_text("\n".join(ours) + "\n")
    return python


@pytest.mark.integration
def test_installed_wheel_ships_resources(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.partial")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, source])
    (wheel,) = wheels.glob("flair_munch-*.whl")

    env_dir = tmp_path / "venv"
    python = _venv_seeing_these_packages(env_dir)
    # --ignore-installed: the machine's (editable) flair-munch has the same version; install beside it.
    _run([python, "-m", "pip", "--disable-pip-version-check", "install", "--no-deps", "--no-index",
          "--ignore-installed", wheel])

    outside = tmp_path / "outside"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FLAIR_MUNCH_RESOURCES", "PYTHONPATH")}
    output = _run([python, "-c", CHECK], cwd=outside, env=env).stdout
    report = json.loads(output.rpartition("RESULT ")[2])

    installed = Path(report["file"]).resolve()
    assert installed.is_relative_to(env_dir.resolve()), report["file"]  # the venv's copy, not the checkout
    assert not installed.is_relative_to(REPO)
    assert Path(report["resources"]) == installed.parent / "resources"
    assert report["splits"] == [300, 150, 150] and report["entities"] > 0
    assert "crossner-to-conll" in report["label_maps"]
    assert report["length"] == 996 and report["vector"] == [996]  # 612 shipped + 384 MiniLM (its package)
