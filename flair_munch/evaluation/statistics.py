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


def sentence_spans(tags: list[list[str]]) -> list[set]:
    """Each sentence's (type, start, end) spans under strict IOB2, as seqeval finds them."""
    return [{e.to_tuple()[1:] for e in spans} for spans in Entities(tags, IOB2).entities]


def sentence_counts(gold: list[list[str]], pred: list[list[str]], gold_spans: Optional[list[set]] = None) -> np.ndarray:
    """Per-sentence (true positives, predicted spans, gold spans) under strict IOB2 exact-span matching.

    Summing these rows over any multiset of sentences gives that sample's micro F1 without
    re-running seqeval, which makes a bootstrap of thousands of resamples cheap. Strict mode matches
    :func:`flair_munch.evaluation.span_scores`. ``gold_spans`` (:func:`sentence_spans` of ``gold``) saves
    finding the gold spans again for every run of a target.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")
    gold_spans = sentence_spans(gold) if gold_spans is None else gold_spans
    counts = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold_spans, sentence_spans(pred))):
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


def _resample_weights(rng: np.random.Generator, resamples: int, size: int) -> np.ndarray:
    """(resamples, size) counts of how often each sentence is drawn in each resample (with replacement)."""
    index = rng.integers(0, size, size=(resamples, size)) + size * np.arange(resamples)[:, None]
    return np.bincount(index.ravel(), minlength=resamples * size).reshape(resamples, size)


def _target_resamples(pairs: list[tuple[np.ndarray, np.ndarray]], n: int, rng: np.random.Generator,
                      chunk_cells: int) -> np.ndarray:
    """One target's mean seed-paired F1 difference (x100) in each of ``n`` two-level resamples."""
    counts = np.stack([np.stack(pair) for pair in pairs])  # (seeds, 2, sentences, 3)
    seeds, _, size, _ = counts.shape
    # float: the weighted sums are a BLAS matrix product (exact: counts are far below 2**53)
    by_sentence = counts.transpose(2, 0, 1, 3).reshape(size, seeds * 6).astype(float)
    means = np.empty(n, dtype=float)
    for start in range(0, n, max(1, chunk_cells // size)):
        stop = min(n, start + max(1, chunk_cells // size))
        sums = (_resample_weights(rng, stop - start, size) @ by_sentence).reshape(stop - start, seeds, 2, 3)
        f1 = _f1(sums)  # (chunk, seeds, 2)
        drawn = rng.integers(0, seeds, size=(stop - start, seeds))
        means[start:stop] = 100 * np.take_along_axis(f1[..., 0] - f1[..., 1], drawn, axis=1).mean(axis=1)
    return means


def two_level_bootstrap(runs: dict[str, list[tuple[np.ndarray, np.ndarray]]], n: int = 1000, seed: int = 0,
                        confidence: float = 0.95, chunk_cells: int = 2_000_000) -> dict:
    """Macro span-F1 difference (x100) of a row minus its baseline, resampling seeds AND test sentences.

    ``runs`` maps each target to its seed pairs ``(row counts, baseline counts)``, each the
    :func:`sentence_counts` of one run (all on the target's test sentences). Each resample draws one
    sentence resample per target and scores every run of that target on it (the test set is one sample
    that all runs share, so drawing it anew per run would average its noise away), then draws the
    target's seed pairs with replacement; the macro difference is the mean over targets. Returns the
    point difference, the percentile interval, a two-sided p (as :func:`paired_bootstrap`) and
    ``reason`` (None, or why nothing could be computed: a target with fewer than 2 seed pairs has no
    seed noise to resample). With 3 seeds the seed level is coarse (3 values), so the interval is
    narrower than the t-interval's: read it as a check of the test-sentence share of the noise.
    """
    result = {"delta": None, "ci_low": None, "ci_high": None, "p": None, "n": n, "confidence": confidence,
              "reason": None}
    if not runs:
        return {**result, "reason": "no target has paired runs"}
    for target, pairs in runs.items():
        if len(pairs) < 2:
            return {**result, "reason": f"{target} has {len(pairs)} paired seed(s): no seed noise to resample"}
        if len({c.shape for pair in pairs for c in pair}) != 1:
            raise ValueError(f"{target}: its runs are not scored on the same test sentences")
    rng = np.random.default_rng(seed)
    macro = np.mean([_target_resamples(pairs, n, rng, chunk_cells) for pairs in runs.values()], axis=0)
    point = np.mean([np.mean([100 * (_f1(a.sum(axis=0)) - _f1(b.sum(axis=0))) for a, b in pairs])
                     for pairs in runs.values()])
    tail = 100 * (1 - confidence) / 2
    low, high = (float(x) for x in np.percentile(macro, [tail, 100 - tail]))
    p = float(min(1.0, 2 * min(np.mean(macro <= 0), np.mean(macro >= 0))))
    return {**result, "delta": float(point), "ci_low": low, "ci_high": high, "p": p}


def mean_sd(values: list[float]) -> tuple[Optional[float], Optional[float]]:
    """Mean and sample sd (None for one value), the form every table cell takes."""
    if not values:
        return None, None
    array = np.asarray(values, dtype=float)
    return float(array.mean()), (float(array.std(ddof=1)) if len(array) > 1 else None)
