"""Where each registered corpus can be downloaded from: a public repository commit, a git blob id per file.

A blob id (what ``git hash-object FILE`` prints) pins a file byte for byte, so a download is verified before
anything is written, whichever mirror or proxy served it. The conversion to the registry's format (typed IOB2
tags, ``dev.tsv``) is a tag rewrite that can be undone exactly: our folders hold the pinned bytes plus an entity
type. The pins and their provenance are in docs/corpora.md#downloading-corpora.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

PUBLIC_HOST = "https://raw.githubusercontent.com"
MIRROR_ENV_VAR = "FLAIR_MUNCH_CORPUS_MIRROR"


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's bytes: ``sha1(b"blob <size>\\0" + data)``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class TagConversion:
    """How a source's tags become ours: untyped ``B``/``I`` get ``add_type``; types in ``rename`` are renamed.

    Only the tag after a line's last tab changes, so undoing it gives back the source bytes."""

    add_type: Optional[str] = None
    rename: tuple[tuple[str, str], ...] = ()

    def tag(self, tag: str) -> str:
        if tag in ("B", "I") and self.add_type:
            return f"{tag}-{self.add_type}"
        prefix, _, kind = tag.partition("-")
        return f"{prefix}-{dict(self.rename).get(kind, kind)}" if kind else tag

    def convert(self, text: str) -> str:
        if not self.add_type and not self.rename:
            return text
        lines = text.split("\n")
        for i, line in enumerate(lines):
            token, tab, tag = line.rpartition("\t")
            if tab:
                lines[i] = f"{token}\t{self.tag(tag)}"
        return "\n".join(lines)


@dataclass(frozen=True)
class SourceFile:
    """One split's file in the source repository and its git blob id."""

    split: str
    path: str
    blob: str


@dataclass(frozen=True)
class CorpusSource:
    """A corpus's pinned source: repository, commit, files, conversion, terms and expected counts.

    ``counts`` (split -> sentences, mentions) is what the converted corpus must hold; None: the published
    figures of ``registry.PAPER_STATS``. ``named_only``: downloaded only when named (unclear redistribution)."""

    repo: str
    commit: str
    files: tuple[SourceFile, ...]
    terms: str
    conversion: TagConversion = field(default_factory=TagConversion)
    counts: Optional[dict[str, tuple[int, int]]] = None
    named_only: bool = False

    def url(self, file: SourceFile, base: str = PUBLIC_HOST) -> str:
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{file.path}"


_MTL = ("cambridgeltl/MTL-Bioinformatics-2016", "df0df02fae6dbb87d88ffcf323b9096528f06f84")
_BIOBERT = ("BioMedBERT/biomedbert", "9e5e1019d79d07c7aecc4eb49106203af1012663")
_CROSSNER = ("zliucr/CrossNER", "2e7ba2a7798c961e3f29fbc51252c5a8d40224bf")
_MTL_TERMS = ("CC BY 4.0 (the repository's README: materials under Creative Commons Attribution 4.0); "
              "the texts are PubMed abstracts (NLM terms)")
_BIOBERT_TERMS = ("BioBERT's preprocessed release (dmis-lab/biobert) as copied in BioMedBERT/biomedbert (MIT code "
                  "licence, no data licence); BioBERT: 'Downloading data indicates your acceptance of the Terms and "
                  "Conditions from National Library of Medicine'")
_CROSSNER_TERMS = "MIT License (Copyright (c) 2020 Zihan Liu); the texts are from Wikipedia"


def _files(folder: str, blobs: str, dev: str = "devel", suffix: str = "tsv") -> tuple[SourceFile, ...]:
    return tuple(SourceFile(split, f"{folder}/{stem}.{suffix}", blob)
                 for split, stem, blob in zip(("train", "dev", "test"), ("train", dev, "test"), blobs.split()))


def _crossner(domain: str, blobs: str, counts: tuple[int, ...]) -> CorpusSource:
    return CorpusSource(*_CROSSNER, _files(f"ner_data/{domain}", blobs, dev="dev", suffix="txt"), _CROSSNER_TERMS,
                        counts=dict(zip(("train", "dev", "test"), zip(counts[::2], counts[1::2]))))


SOURCES: dict[str, CorpusSource] = {
    "ncbi-disease": CorpusSource(*_MTL, _files("data/NCBI-disease-IOB", "d2d646eead9fabe3b1fe0391035bd135d32051c7 "
                                 "152e9b9d3b4275a1bb9a435b0783946ef40208fe 6217f611e1517a70e5bd645b9dea34f7f9bf594f"),
                                 _MTL_TERMS),
    "bc5cdr-disease": CorpusSource(*_MTL, _files("data/BC5CDR-disease-IOB", "80a2e68f9a18b1f57e9c7660d6f097066282ecaa "
                                   "77c8c1131342945cd55e4d6ccff57535a8ce5d17 8f3c5a15e7cb8355354b25002a5359a63b405f09"),
                                   _MTL_TERMS),
    "bc5cdr-chem": CorpusSource(*_MTL, _files("data/BC5CDR-chem-IOB", "5532c9c40b803229fb46ca0567c80bc1686a4e05 "
                                "550e8c4044bbb93a471ebebf794ac70c398dd0e6 1c948e98da2fcfc578425a54c5e138bbc132a883"),
                                _MTL_TERMS),
    "bc2gm": CorpusSource(*_MTL, _files("data/BC2GM-IOB", "4cff7095a25ecda147466ab4b4a81a315d8641bd "
                          "c083f1ef3d6c9113715c9782af67e1c6da31f6e4 666f49afd8efeafbe34c846efb70be3f1fd92b5b"),
                          _MTL_TERMS, TagConversion(rename=(("GENE", "Gene"),))),
    "jnlpba": CorpusSource(*_BIOBERT, _files("datasets/NER/JNLPBA", "69c07e471bc0e326addee228f7c07f7514e79062 "
                           "f5cca3868a609b657bd2baeed57dd7861c6625ff 66c3aac132f6b79b089ea68aa82ddc8db3f68c0e"),
                           _BIOBERT_TERMS + "; JNLPBA annotations: GENIA licence (CC BY 3.0)",
                           TagConversion(add_type="Gene")),
    "linnaeus": CorpusSource(*_BIOBERT, _files("datasets/NER/linnaeus", "255d3c8bb8dbae9bd8cebb96df59af00251668a4 "
                             "d7d2f3b114b99286b03f678e0a759563230f5b93 e47f17ec05d7971fb8b95deb0f1a2e6b37fd7822"),
                             _BIOBERT_TERMS, TagConversion(add_type="Species")),
    "s800": CorpusSource(*_BIOBERT, _files("datasets/NER/s800", "a3abafa01885fb0a36c577a11c2c884cbfb5f3c9 "
                         "e6ce80e54ac83b1f9a1cb0cc9f3f56b8333634b0 5a1c7c0f29f8007823a0e8cf63f2cc4eff51d52e"),
                         _BIOBERT_TERMS, TagConversion(add_type="Species")),
    "bc4chemd": CorpusSource(*_BIOBERT, _files("datasets/NER/BC4CHEMD", "f9e155c7a5f59896b38b84661737a6c0f9f30b7a "
                             "474d35d44eb4a992f8fdef09b677c74e873d7d24 d6256c404ddc044cf5176184a1d38773596b5efd"),
                             _BIOBERT_TERMS + "; the redistribution status of the BioCreative IV CHEMDNER corpus is "
                             "unclear (MTL-Bioinformatics-2016 README): download it only if your use is covered",
                             TagConversion(add_type="Chemical"), named_only=True),
    "crossner-ai": _crossner("ai", "bd929d7e174df3a8e2051a05e6823e1edbbe80a0 a1c3e3441097fd2fdc0c585dc16ee4522a398088 "
                             "572dccc566629caeaddcd50250e4f9ee1689c782", (100, 532, 350, 1549, 431, 1809)),
    "crossner-literature": _crossner("literature", "3ea783fe5566fd607087afc08097324695345732 "
                                     "10bdbbf19fded339947ccb7e106cef0a37236fab "
                                     "57f03442796b7dcb5659cbd462253b4f8b740088", (100, 541, 400, 2130, 416, 2266)),
    "crossner-music": _crossner("music", "70df29bd82b7041a25d89d27740853faf99a352e "
                                "0420fbcf609e87d7ced2829b73f7bf8c1ea3249f 944c42acc8ade4666d9279a47470b7cc67f554cc",
                                (100, 648, 380, 2679, 465, 3336)),
    "crossner-politics": _crossner("politics", "81f30d0a17fa8066567cd84d6e3d299815d8a2c7 "
                                   "fdf576da994633e730ec01ccb030b0f29df30351 93fcec29aab3fb9cb09e99245a51e39f8b4d2ff3",
                                   (200, 1304, 541, 3482, 651, 4209)),
    "crossner-science": _crossner("science", "28cef1bdedfb53cc1b27f5679148813feb0bfea4 "
                                  "a98ab1ca7afb1bde4eecb425e916c13075edb9e1 b1caa0fee15b04dfbfba940dee2a4beabf50ade6",
                                  (200, 1075, 450, 2538, 543, 3089)),
}
"""Registry name -> pinned source; every registered corpus but ``conll2003`` (see ``NO_SOURCE``)."""

NO_SOURCE: dict[str, str] = {
    "conll2003": "CoNLL-2003's text is Reuters news (RCV1), which only the Reuters corpus agreement gives out, so no "
                 "redistributable copy can be pinned: obtain RCV1 (https://trec.nist.gov/data/reuters/reuters.html), "
                 "build the English splits with the shared task's scripts and put them in the data folder as "
                 "CoNLL-2003/train.tsv, dev.tsv (testa), test.tsv (testb)",
}
"""Registry name -> why it cannot be downloaded and how to get it."""


def download_hint(name: str, data_dir: str) -> str:
    """The sentence a "not found" error ends with: the download command, or why there is none."""
    if name in NO_SOURCE:
        return f"It cannot be downloaded: {NO_SOURCE[name]}."
    if name not in SOURCES:
        return ""
    return (f"Online, fetch it (pinned source, checked byte for byte): `flair-munch corpus download {name} "
            f"--to {data_dir}` (Python: load_corpus('{name}', download=True); recipe: `download: true`).")
