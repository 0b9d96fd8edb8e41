"""``encoder-states``: cosine of the corpora's mean shared-encoder states (a TextEmb-style task embedding).

Vu et al. 2020 ("Exploring and Predicting Transferability across NLP Tasks") embed a task by the mean
of an encoder's representations of its text (TextEmb). Here the encoder is the probe model's
reprojection + BiLSTM after ``epochs`` epochs of SingleTask on the target (0: as initialised), so the
states are those a target tagger computes; a corpus's vector is the mean over its (capped) train
sentences of each sentence's mean token state, and the score is the cosine with the target's.
"""

import tempfile
from dataclasses import dataclass

import torch

from flair_munch.aux_ranking.base import AuxPredictor
from flair_munch.aux_ranking.probe_model import ModelPredictor, preserved_rng
from flair_munch.corpora.similarity import cosine
from flair_munch.inference import evaluation_mode


@AuxPredictor.register("encoder-states")
@dataclass
class EncoderStates(ModelPredictor):
    """Cosine between mean encoder states of each candidate's train split and the target's (TextEmb)."""

    reference = "Vu et al. 2020, Exploring and Predicting Transferability across NLP Tasks (EMNLP): TextEmb"
    epochs: int = 1  # SingleTask epochs on the target before the states are read; 0: the seeded initial encoder
    centred: bool = True  # subtract the mean of all corpora's vectors before the cosine

    def score(self, target, candidates):
        from flair_munch.training import AuxiliaryTrainer, SingleTask

        corpora = [self.without_test(target), *(self.capped(c) for c in candidates)]
        steps = 0
        with preserved_rng(), tempfile.TemporaryDirectory(prefix="flair-munch-states-") as work:
            model = self.build_model(corpora[:1])
            if self.epochs:
                result = AuxiliaryTrainer(model, corpora[:1]).train(
                    target.name, [], SingleTask(), base_path=work, max_epochs=self.epochs,
                    learning_rate=self.learning_rate, mini_batch_size=self.mini_batch_size, seed=self.seed,
                    save_model=False, progress=False, evaluate_dev=False)
                steps = result.updates.get("shared", 0)
            vectors = {c.name: self.mean_state(model, list(c.train)) for c in corpora}
        if self.centred:
            centre = torch.stack(list(vectors.values())).mean(0)
            vectors = {name: vector - centre for name, vector in vectors.items()}
        reference = vectors[target.name]
        scores = {}
        for corpus in corpora[1:]:
            similarity = cosine(reference, vectors[corpus.name])
            scores[corpus.name] = (similarity, {"cosine": similarity})
        return scores, steps, self.budget_steps(target, candidates)

    def mean_state(self, model, sentences: list) -> torch.Tensor:
        """Mean over ``sentences`` of each sentence's mean token state (float64), dropout off."""
        total, count = None, 0
        sentences = [s for s in sentences if len(s)]
        with evaluation_mode(model), torch.no_grad():
            for start in range(0, len(sentences), 64):
                batch = sorted(sentences[start:start + 64], key=len, reverse=True)
                states, lengths = model.encode(batch)
                mask = (torch.arange(states.shape[1])[None, :] < lengths[:, None]).to(states.device)
                means = (states * mask[..., None]).sum(1) / lengths[:, None].to(states.device)
                part = means.to("cpu", torch.float64).sum(0)
                total, count = (part if total is None else total + part), count + len(batch)
        return total / count
