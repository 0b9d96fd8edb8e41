"""Pre-train on a source corpus, then fine-tune on the target: the two-stage transfer of docs/methods.md §5."""

from typing import Optional

from flair_munch.training.schedules.base import OneAuxSchedule, Schedule, Stage, Step


@Schedule.register("pretrain-finetune")
class PretrainFinetune(OneAuxSchedule):
    """Stage 1: the source corpus alone until its own training loss converges; stage 2: the target alone.

    The shared encoder carries what the source taught into stage 2; each corpus keeps its head
    (with a label map, e.g. CrossNER to CoNLL's four types, both heads predict the same types).
    ``source`` names one of the aux corpora; ``None``: the run's only one.
    """

    corpus_options = {"source": "one"}
    noun = "source corpus"

    def __init__(self, source: Optional[str] = None) -> None:
        self.source = source

    def plan(self, ctx) -> list[Stage]:
        source = self.chosen(ctx)
        source_steps = -(-ctx.train_size(source) // ctx.batch_size)
        return [
            Stage(f"pretrain[{source}]", (Step((source,)),) * source_steps, converge_on=source),
            Stage("finetune", (Step((ctx.target,)),) * ctx.iterations),
        ]
