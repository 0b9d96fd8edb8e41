"""Is a schedule's gain over the baseline real? Paired tests over seeds and over test sentences."""

import math
from typing import Optional

import numpy as np
from scipy import stats
from seqeval.scheme import IOB2, Entities

MIN_WILCOXON = 6  # with fewer pairs the smallest attainable two-sided p is above 0.05


def paired_difference(a: list[float], b: list[float], confidence: float = 0.95) -> dict:
    """Differences ``a - b`` paired by seed: mean, sd, n, t-interval, paired t-test p and Wilcoxon p.

    Seeds pair the two runs (same data order and initialisation), which removes seed noise that an
    unpaired comparison would count against the gain. ``ci_low``/``ci_high`` are the ``confidence``
    t-interval of the mean difference, mean ± t_{(1+confidence)/2, n-1} · sd/√n (None for n < 2);
    ``within_noise`` is True when that interval contains 0 or there are fewer than 2 pairs.
    Wilcoxon needs n >= 6 to ever reach p < 0.05.
    """
    if len(a) != len(b):
        raise ValueError(f"{len(a)} values against {len(b)}: paired values need one per seed each")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    result: dict = {"mean": float(d.mean()) if n else math.nan, "sd": None, "n": n, "ci_low": None,
                    "ci_high": None, "within_noise": True, "t_p": None, "wilcoxon_p": None}
    if n < 2:
        return result
    result["sd"] = float(d.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * result["sd"] / math.sqrt(n)
    result["ci_low"], result["ci_high"] = result["mean"] - half, result["mean"] + half
    result["within_noise"] = bool(result["ci_low"] <= 0.0 <= result["ci_high"])
    if np.allclose(d, d[0]):
        # a constant difference has zero variance: the t statistic is 0/0 or +-inf, scipy gives nan
        result["t_p"] = 1.0 if np.isclose(d[0], 0.0) else 0.0
    else:
        result["t_p"] = float(stats.ttest_rel(a, b).pvalue)
    if n >= MIN_WILCOXON:
        result["wilcoxon_p"] = 1.0 if np.allclose(d, 0.0) else float(stats.wilcoxon(a, b).pvalue)
    return result


def sentence_counts(gold: list[list[str]], pred: list[list[str]]) -> np.ndarray:
    """Per-sentence (true positives, predicted spans, gold spans) under strict IOB2 exact-span matching.

    Summing these rows over any multiset of sentences gives that sample's micro F1 without
    re-running seqeval, which makes a bootstrap of thousands of resamples cheap. Strict mode matches
    :func:`flair_munch.evaluation.span_scores`.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")
    gold_spans = Entities(gold, IOB2).entities
    pred_spans = Entities(pred, IOB2).entities
    counts = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (gs, ps) in enumerate(zip(gold_spans, pred_spans)):
        g = {e.to_tuple()[1:] for e in gs}
        p = {e.to_tuple()[1:] for e in ps}
        counts[i] = (len(g & p), len(p), len(g))
    return counts


def _f1(sums: np.ndarray) -> np.ndarray:
    """Micro F1 from summed (tp, n_pred, n_gold) along the last axis; 0 where nothing was predicted or gold."""
    denominator = sums[..., 1] + sums[..., 2]
    return np.where(denominator > 0, 2 * sums[..., 0] / np.maximum(denominator, 1), 0.0)


def paired_bootstrap(
    gold: list[list[str]],
    pred_a: list[list[str]],
    pred_b: list[list[str]],
    n: int = 1000,
    seed: int = 0,
    chunk_cells: int = 2_000_000,
) -> dict:
    """Paired bootstrap of the span-F1 difference ``a - b`` over test sentences.

    Both systems are scored on the SAME resampled sentences, so only the test-set sampling noise is
    measured. ``p`` is two-sided: twice the smaller fraction of resamples on either side of 0 (at
    most 1), so an interval entirely below 0 gives a small p, as one entirely above does;
    ``within_noise`` means the 95% interval contains 0.
    """
    if not gold:
        raise ValueError("paired bootstrap needs at least one test sentence")
    counts_a = sentence_counts(gold, pred_a)
    counts_b = sentence_counts(gold, pred_b)
    both = np.concatenate([counts_a, counts_b], axis=1)  # (sentences, 6)
    rng = np.random.default_rng(seed)
    size = len(gold)
    rows_per_chunk = max(1, chunk_cells // size)
    diffs = np.empty(n, dtype=float)
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        index = rng.integers(0, size, size=(stop - start, size))
        sums = both[index].sum(axis=1)  # (chunk, 6)
        diffs[start:stop] = _f1(sums[:, :3]) - _f1(sums[:, 3:])
    low, high = (float(x) for x in np.percentile(diffs, [2.5, 97.5]))
    f1_a, f1_b = float(_f1(counts_a.sum(axis=0))), float(_f1(counts_b.sum(axis=0)))
    return {
        "difference": f1_a - f1_b,
        "mean": float(diffs.mean()),
        "ci_low": low,
        "ci_high": high,
        "p": float(min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))),
        "within_noise": bool(low <= 0.0 <= high),
        "f1_a": f1_a,
        "f1_b": f1_b,
        "n": n,
        "sentences": size,
    }


def mean_sd(values: list[float]) -> tuple[Optional[float], Optional[float]]:
    """Mean and sample sd (None for one value), the form every table cell takes."""
    if not values:
        return None, None
    array = np.asarray(values, dtype=float)
    return float(array.mean()), (float(array.std(ddof=1)) if len(array) > 1 else None)
