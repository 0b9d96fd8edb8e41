"""Pre-train on a source corpus, then fine-tune on the target: the two-stage transfer of SPEC 5."""

from typing import Optional

from flair_munch.training.schedules.base import Schedule, Stage, Step


class PretrainFinetune(Schedule):
    """Stage 1: the source corpus alone until its own training loss converges; stage 2: the target alone.

    The shared encoder carries what the source taught into stage 2; each corpus keeps its head
    (with a label map, e.g. CrossNER to CoNLL's four types, both heads predict the same types).
    """

    name = "pretrain-finetune"

    def __init__(self, source: Optional[str] = None) -> None:
        self.source = source

    def plan(self, ctx) -> list[Stage]:
        source = self.source
        if source is None:
            if len(ctx.aux) != 1:
                raise ValueError(f"pretrain-finetune needs one source corpus: pass source=NAME, one of {ctx.aux}")
            source = ctx.aux[0]
        if source not in ctx.aux:
            raise ValueError(f"source {source!r} is not among the auxiliary corpora {ctx.aux}")
        source_steps = -(-ctx.train_size(source) // ctx.batch_size)
        return [
            Stage(f"pretrain[{source}]", (Step((source,)),) * source_steps, converge_on=source),
            Stage("finetune", (Step((ctx.target,)),) * ctx.iterations),
        ]
