"""``lookahead``: inter-task affinity on the shared encoder (Fifty et al. 2021, TAG).

The probe model co-trains the target with every candidate for ``steps`` steps (0: one pass over the
target's train). Before each co-training step, for each candidate i, a lookahead SGD step on i's batch
moves the shared layers (reprojection and BiLSTM; heads untouched) and the target's loss on its batch
is measured before and after: ``affinity(i -> target) = 1 - L_target(after) / L_target(before)``,
positive when a step on i lowers the target's loss. The score is its mean over the co-training.
Lookaheads run with dropout off (the comparison is of weights, not of masks).
"""

from dataclasses import dataclass

import torch

from flair_munch.aux_ranking.base import AuxPredictor
from flair_munch.aux_ranking.probe_model import BatchCycle, ModelPredictor, preserved_rng
from flair_munch.inference import evaluation_mode


@AuxPredictor.register("lookahead")
@dataclass
class LookaheadAffinity(ModelPredictor):
    """Mean lookahead affinity of each candidate on the target over a short co-training (TAG)."""

    reference = "Fifty et al. 2021, Efficiently Identifying Task Groupings for Multi-Task Learning (NeurIPS)"
    steps: int = 0  # co-training steps; 0: ITER (one pass over the target's train)
    max_grad_norm: float = 5.0  # clipping of the lookahead and co-training steps, as the trainer's default

    def score(self, target, candidates):
        corpora = [self.without_test(target), *(self.capped(c) for c in candidates)]
        steps = self.steps or self.iterations(target)
        names = [c.name for c in corpora[1:]]
        with preserved_rng():
            model = self.build_model(corpora)
            shared = [p for key, p in model.named_parameters() if not key.startswith("heads.") and p.requires_grad]
            streams = {c.name: BatchCycle(c.train, self.mini_batch_size, self.seed + i) for i, c in enumerate(corpora)}
            optimizer = torch.optim.SGD(model.parameters(), lr=self.learning_rate)
            total = dict.fromkeys(names, 0.0)
            for _ in range(steps):
                batches = {name: stream.next() for name, stream in streams.items()}
                for name in names:
                    total[name] += self.affinity(model, shared, batches[name], batches[target.name])
                self.co_train(model, optimizer, list(batches.values()))
        scores = {name: (total[name] / steps, {"affinity": total[name] / steps}) for name in names}
        passes = steps * (2 * len(names) + 1)  # a lookahead and a co-training batch per candidate, the target's
        return scores, passes, self.budget_steps(target, candidates)

    def affinity(self, model, shared: list, aux_batch: list, target_batch: list) -> float:
        """``1 - L_target(shared - lr * g_aux) / L_target(shared)``, the weights restored afterwards."""
        # eval mode under no_grad, gradients switched back on for the aux loss; cuDNN's LSTM has no eval backward
        with evaluation_mode(model), torch.backends.cudnn.flags(enabled=False):
            before = float(model.forward_loss(target_batch)[0])
            with torch.enable_grad():
                gradients = torch.autograd.grad(model.forward_loss(aux_batch)[0], shared, allow_unused=True)
            pairs = [(p, g) for p, g in zip(shared, gradients) if g is not None]
            norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for _, g in pairs])))
            scale = self.learning_rate * min(1.0, self.max_grad_norm / (norm + 1e-6))
            saved = [p.detach().clone() for p, _ in pairs]
            for p, g in pairs:
                p.sub_(scale * g)
            after = float(model.forward_loss(target_batch)[0])
            for (p, _), old in zip(pairs, saved):
                p.copy_(old)
        return 1.0 - after / before if before > 0 else 0.0

    def co_train(self, model, optimizer, batches: list) -> None:
        """One SGD step on the summed loss of a batch of every corpus (the target's and each candidate's)."""
        model.train()
        optimizer.zero_grad()
        loss = sum(model.forward_loss(batch)[0] for batch in batches)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), self.max_grad_norm)
        optimizer.step()
