"""SingleTask: the target corpus alone."""

from flair_munch.training.schedules.base import Schedule, Stage, Step


@Schedule.register("single-task")
class SingleTask(Schedule):
    """Each epoch: ITER steps on target batches (one pass over the target's training data)."""

    needs_aux = False

    def plan(self, ctx) -> list[Stage]:
        return [Stage("single-task", (Step((ctx.target,)),) * ctx.iterations)]
