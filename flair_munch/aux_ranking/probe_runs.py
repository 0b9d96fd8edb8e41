"""``probe``: a short SingleAux run per candidate, scored on the target's dev split.

SingleAux-best's own rule (one SingleAux run per candidate, highest target dev F1) at a fraction
of its epochs: ``epochs`` epochs of the probe model instead of training to convergence, so the
compute is about ``epochs / budget_epochs`` of brute force. Every run starts from the same seeded
weights and batch order (the trainer's), so the ranking is reproducible. In the spirit of the
cheap proxies of Poth et al. 2021 ("What to Pre-Train on? Efficient Intermediate Task Selection").
"""

import tempfile
from dataclasses import dataclass

from flair_munch.aux_ranking.base import AuxPredictor
from flair_munch.aux_ranking.probe_model import ModelPredictor, preserved_rng


@AuxPredictor.register("probe")
@dataclass
class ProbeRuns(ModelPredictor):
    """SingleAux with each candidate for ``epochs`` epochs from one seeded initialisation; score: target dev F1."""

    reference = "Poth et al. 2021, What to Pre-Train on? Efficient Intermediate Task Selection (EMNLP)"
    epochs: int = 1

    def score(self, target, candidates):
        from flair_munch.training import AuxiliaryTrainer, SingleAux

        if not target.dev:
            raise ValueError(f"ranking method 'probe' scores on the target's dev split; `{target.name}` has none")
        corpora = [self.without_test(target), *(self.capped(c) for c in candidates)]
        scores, steps = {}, 0
        with preserved_rng(), tempfile.TemporaryDirectory(prefix="flair-munch-probe-") as work:
            trainer = AuxiliaryTrainer(self.build_model(corpora), corpora)
            for corpus in corpora[1:]:
                result = trainer.train(target.name, [corpus.name], SingleAux(corpus.name),
                                       base_path=f"{work}/{corpus.name}", max_epochs=self.epochs,
                                       learning_rate=self.learning_rate, mini_batch_size=self.mini_batch_size,
                                       seed=self.seed, save_model=False, progress=False)
                steps += result.updates.get("shared", 0)
                scores[corpus.name] = (result.dev["f1"], {"dev_f1": result.dev["f1"], "epochs": result.epochs})
        return scores, steps, self.budget_steps(target, candidates)
