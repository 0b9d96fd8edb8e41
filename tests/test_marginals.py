"""CRF marginals: forward-backward against brute force and Flair's own loss, entropy bounds, uncertainty ranking."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import flair
from flair.data import Dictionary, MultiCorpus, Sentence
from flair.embeddings import OneHotEmbeddings

from flair_munch.corpora import load_corpus
from flair_munch.models import MultiHeadTagger
from flair_munch.models.marginals import (
    log_partition,
    max_entropy,
    rank_by_uncertainty,
    token_entropy,
    token_marginals,
    write_uncertainty_conll,
)
from flair_munch.models.tagging_head import TaggingHead, span_tag_dictionary


def make_head(types=("Disease",), input_size=4, seed=0, open_transitions=True) -> TaggingHead:
    """A CRF head; ``open_transitions`` replaces Flair's -10000 <START>/<STOP> entries so every path counts."""
    entity_types = Dictionary(add_unk=False)
    for name in types:
        entity_types.add_item(name)
    torch.manual_seed(seed)
    head = TaggingHead(span_tag_dictionary(entity_types), input_size)
    if open_transitions:
        with torch.no_grad():
            head.crf.transitions.normal_()
    return head


def brute_force(head: TaggingHead, scores: tuple, sentence: int) -> tuple[torch.Tensor, float]:
    """Marginals and log Z of one sentence by enumerating every tag path (Flair's path score)."""
    features, lengths, transitions = (x.detach().double() if x.is_floating_point() else x for x in scores)
    start = head.label_dictionary.get_idx_for_item("<START>")
    stop = head.label_dictionary.get_idx_for_item("<STOP>")
    n, k = int(lengths[sentence]), head.tagset_size
    paths = list(itertools.product(range(k), repeat=n))
    f = features[sentence]
    path_scores = torch.stack([
        f[0, path[0], start] + sum(f[t, path[t], path[t - 1]] for t in range(1, n)) + transitions[stop, path[-1]]
        for path in paths
    ])
    log_z = torch.logsumexp(path_scores, 0)
    marginals = torch.zeros(n, k, dtype=torch.float64)
    for probability, path in zip((path_scores - log_z).exp(), paths):
        for t, tag in enumerate(path):
            marginals[t, tag] += probability
    return marginals, float(log_z)


def test_marginals_match_brute_force_on_a_padded_batch():
    head = make_head()
    lengths = torch.tensor([3, 2, 1])
    scores = head(torch.randn(3, 3, 4), lengths)
    marginals = token_marginals(head, scores)
    log_z = log_partition(head, scores)
    for i, n in enumerate(lengths.tolist()):
        expected, expected_log_z = brute_force(head, scores, i)
        assert marginals[i].shape == (n, head.tagset_size)
        assert torch.allclose(marginals[i], expected, atol=1e-9)
        assert float(log_z[i]) == pytest.approx(expected_log_z, abs=1e-9)
        assert torch.allclose(marginals[i].sum(-1), torch.ones(n, dtype=torch.float64))


def test_log_partition_is_flairs_crf_normaliser():
    """exp(-ViterbiLoss) of every 2-token tag path sums to 1: our log Z is the loss's normaliser."""
    head = make_head(seed=1)
    scores = head(torch.randn(1, 2, 4), torch.tensor([2]))
    k = head.tagset_size
    with torch.no_grad():
        total = sum(math.exp(-float(head.loss_function(scores, torch.tensor(path))))
                    for path in itertools.product(range(k), repeat=2))
        gold = torch.tensor([1, 0])
        assert float(head.loss_function(scores, gold)) == pytest.approx(
            float(log_partition(head, scores)[0]) - _path_score(head, scores, [1, 0]), abs=1e-4)
    assert total == pytest.approx(1.0, abs=1e-4)


def _path_score(head, scores, path):
    features, _, transitions = scores
    start = head.label_dictionary.get_idx_for_item("<START>")
    stop = head.label_dictionary.get_idx_for_item("<STOP>")
    score = features[0, 0, path[0], start] + transitions[stop, path[-1]]
    for t in range(1, len(path)):
        score = score + features[0, t, path[t], path[t - 1]]
    return float(score)


def test_marginals_are_not_the_viterbi_confidences():
    """Flair's decoder reports a softmax over Viterbi prefix scores; the marginals sum over whole paths."""
    head = make_head(seed=2)
    scores = head(torch.randn(1, 5, 4), torch.tensor([5]))
    marginals = token_marginals(head, scores)[0]
    paths, _ = head.decode(scores, [Sentence(["a", "b", "c", "d", "e"])])
    tags = [head.label_dictionary.get_idx_for_item(tag) for tag, _ in paths[0]]
    confidences = torch.tensor([confidence for _, confidence in paths[0]], dtype=torch.float64)
    ours = marginals[torch.arange(5), torch.tensor(tags)]
    assert not torch.allclose(ours, confidences, atol=1e-3)


def test_entropy_is_zero_when_one_tag_has_all_mass():
    head = make_head(open_transitions=False)
    with torch.no_grad():
        head.linear.weight.zero_()
        head.linear.bias.fill_(-50.0)
        head.linear.bias[head.label_dictionary.get_idx_for_item("O")] = 50.0
        head.crf.transitions.zero_()
    scores = head(torch.randn(2, 6, 4), torch.tensor([6, 3]))
    for marginals in token_marginals(head, scores):
        outside = marginals[:, head.label_dictionary.get_idx_for_item("O")]
        assert torch.allclose(outside, torch.ones(len(marginals), dtype=torch.float64))
        assert float(token_entropy(marginals).max()) < 1e-30
    assert float(token_entropy(torch.tensor([0.0, 1.0, 0.0]))) == 0.0


def test_entropy_is_log_k_for_uniform_marginals():
    head = make_head(types=("Disease", "Chemical"), open_transitions=False)
    with torch.no_grad():
        head.linear.weight.zero_()
        head.linear.bias.zero_()
        head.crf.transitions.zero_()  # every path scores 0: every tag equally likely at every token
    k = head.tagset_size
    scores = head(torch.randn(1, 4, 4), torch.tensor([4]))
    marginals = token_marginals(head, scores)[0]
    assert torch.allclose(marginals, torch.full((4, k), 1 / k, dtype=torch.float64))
    assert torch.allclose(token_entropy(marginals), torch.full((4,), math.log(k), dtype=torch.float64))
    assert max_entropy(k) == pytest.approx(math.log(k))
    skewed = torch.tensor([0.5, 0.25, 0.25])
    assert float(token_entropy(skewed)) < math.log(3)


@pytest.fixture(scope="module")
def tagger():
    corpora = [load_corpus("ncbi-disease", samples=True, train_size=20, seed=1),
               load_corpus("s800", samples=True, train_size=20, seed=1)]
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus(corpora), embedding_length=8, min_freq=1)
    return MultiHeadTagger.from_corpora(embeddings, corpora, hidden_size=8), corpora


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_rank_by_uncertainty_sorts_and_writes_entropy_column(tagger, tmp_path, reduce):
    model, corpora = tagger
    sentences = list(corpora[0].dev)[:6] + list(corpora[1].dev)[:6]
    model.train()
    rows = rank_by_uncertainty(model, sentences, reduce=reduce, mini_batch_size=5)
    assert model.training  # the mode is restored
    assert sorted(id(row.sentence) for row in rows) == sorted(id(s) for s in sentences)
    assert [row.score for row in rows] == sorted((row.score for row in rows), reverse=True)
    for row in rows:
        entropies = torch.tensor(row.entropies)
        assert row.score == pytest.approx(float(entropies.max() if reduce == "max" else entropies.mean()))
        assert row.head == row.sentence.get_label("corpus").value
        assert len(row.entropies) == len(row.predicted) == len(row.sentence)
        assert all(0.0 <= e <= math.log(model.heads[row.head].tagset_size) + 1e-9 for e in row.entropies)
    again = rank_by_uncertainty(model, sentences, reduce=reduce, mini_batch_size=12)
    assert [row.sentence for row in again] == [row.sentence for row in rows]  # eval mode: no dropout noise

    path = write_uncertainty_conll(tmp_path / "uncertain.conll", rows, top=3)
    blocks = path.read_text(encoding="utf-8").strip("\n").split("\n\n")
    assert len(blocks) == 3
    first = [line.split("\t") for line in blocks[0].splitlines()]
    assert [cols[0] for cols in first] == [token.text for token in rows[0].sentence]
    assert all(len(cols) == 4 for cols in first)
    assert [float(cols[3]) for cols in first] == pytest.approx(rows[0].entropies, abs=1e-4)


def test_rank_by_uncertainty_with_one_head(tagger):
    model, corpora = tagger
    rows = rank_by_uncertainty(model, list(corpora[1].dev)[:3], head="ncbi-disease")
    assert {row.head for row in rows} == {"ncbi-disease"}
    with pytest.raises(KeyError, match="unknown head"):
        rank_by_uncertainty(model, list(corpora[1].dev)[:3], head="nope")
    with pytest.raises(ValueError, match="reduce"):
        rank_by_uncertainty(model, list(corpora[1].dev)[:3], reduce="sum")
