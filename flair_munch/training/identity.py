"""What a run is: everything that determines its numbers, hashed into the one id that names its folder.

The same identity serves a study's runs, a script's runs and the SingleAux sub-runs behind
selection and dev-sorted orders: ``RunIdentity`` -> ``run_id`` -> folder -> ``RunDirectory.finished()``.
What lies beyond the schedule and the training settings (the corpora and the model) is the
``IdentityBasis``: a study describes it from its recipe (corpus options, model settings, the
embeddings' fingerprint), so finished runs are found without loading a corpus; a script's trainer
fingerprints the corpora's sentences and the model instead.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Mapping, Optional, Sequence

from flair_munch.models.tagging_head import LOSS_WEIGHT


@dataclass(frozen=True)
class IdentityBasis:
    """The corpora (per name) and the model a trainer's runs are made of."""

    corpora: Mapping[str, dict]
    model: dict


@dataclass(frozen=True)
class RunIdentity:
    """Exactly what determines a run's numbers; ``run_id`` hashes it."""

    target: str
    aux: tuple[str, ...]
    schedule: dict  # Schedule.settings(): its name and constructor arguments
    settings: dict  # TrainingSettings.identity(): the options that can change the numbers
    basis: IdentityBasis = field(repr=False)

    @property
    def run_id(self) -> str:
        data = asdict(self)
        data["basis"] = {"corpora": {name: self.basis.corpora.get(name) for name in (self.target, *self.aux)},
                         "model": self.basis.model}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]

    def of(self, schedule: dict, aux: Sequence[str], settings: dict) -> "RunIdentity":
        """Another run over the same corpora and model (a sub-run a selection or an order needs)."""
        return replace(self, schedule=schedule, aux=tuple(aux), settings=settings)


def corpus_fingerprint(corpus) -> dict:
    """Split sizes and a hash of every sentence's tokens, gold spans and loss weight."""
    digest = hashlib.sha1()
    sizes = {}
    for split in ("train", "dev", "test"):
        sentences = getattr(corpus, split) or []
        sizes[split] = len(sentences)
        for sentence in sentences:
            digest.update(" ".join(t.text for t in sentence).encode("utf-8"))
            digest.update(repr([(s.unlabeled_identifier, s.tag) for s in sentence.get_spans("ner")]).encode("utf-8"))
            if sentence.has_metadata(LOSS_WEIGHT):  # weighted sentences train differently: another run
                digest.update(repr(sentence.get_metadata(LOSS_WEIGHT)).encode("utf-8"))
    return {"sizes": sizes, "sha1": digest.hexdigest()[:16]}


def content_basis(model, corpora: Mapping, fingerprint: Optional[dict] = None,
                  store_dtype: str = "float32") -> IdentityBasis:
    """The basis of a script's runs: the corpora's content and the model (its embeddings by their fingerprint;
    pass the store's ``fingerprint`` when there is one, so the weights are not hashed twice). A store that
    rounds its vectors (``store_dtype`` float16 / bfloat16) makes other runs; float32 adds nothing, as in a recipe."""
    from flair_munch.embeddings.identity import fingerprint_digest

    rounding = {} if store_dtype == "float32" else {"embedding_store_dtype": store_dtype}
    return IdentityBasis(
        corpora={name: corpus_fingerprint(corpus) for name, corpus in corpora.items()},
        model={"class": type(model).__name__, "embeddings": fingerprint_digest(model.embeddings, fingerprint),
               "heads": model.head_names, "config": model.config(), **rounding},
    )
