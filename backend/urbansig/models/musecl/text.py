"""POI textual semantics (paper Sec. 4.3): skip-gram with hierarchical softmax, Eq. 7.

Training uses all POI categories and texts (gensim ``Word2Vec(sg=1, hs=1, negative=0)``);
the representation phase uses only the categories: a region's POI vector is the mean of its
POIs' category vectors. gensim is imported inside :func:`train_category_vectors`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)
CATEGORY_PREFIX = "cat:"


def category_token(category: str) -> str:
    """The vocabulary token of a category (kept whole, lower case, prefixed)."""
    return CATEGORY_PREFIX + str(category).strip().lower()


def tokenize(text: str) -> list[str]:
    """Lower-case words of two or more letters/digits."""
    return _WORD.findall(str(text).lower()) if text else []


def build_sentences(
    categories: Sequence[str],
    texts: Sequence[str],
    poi_region: np.ndarray,
    rng: np.random.Generator,
    region_sentence_length: int = 64,
) -> list[list[str]]:
    """The skip-gram corpus: one sentence per POI (its category token + its text words) and,
    per region, its POIs' category tokens in random order (chunks of
    ``region_sentence_length``) so categories that share regions share contexts.
    """
    tokens = [category_token(c) for c in categories]
    sentences = [[tok, *tokenize(t)] for tok, t in zip(tokens, texts)]
    region = np.asarray(poi_region, dtype=np.int64)
    keep = region >= 0
    order = np.flatnonzero(keep)
    order = order[rng.permutation(len(order))]
    order = order[np.argsort(region[order], kind="stable")]
    bounds = np.flatnonzero(np.diff(region[order])) + 1
    for group in np.split(order, bounds):
        for start in range(0, len(group), region_sentence_length):
            chunk = group[start : start + region_sentence_length]
            if len(chunk) > 1:
                sentences.append([tokens[i] for i in chunk])
    return sentences


def train_category_vectors(
    sentences: list[list[str]],
    categories: Sequence[str],
    dim: int,
    epochs: int = 10,
    window: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Skip-gram + hierarchical softmax vectors of ``categories`` (rows in that order)."""
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=sentences,
        vector_size=dim,
        window=window,
        min_count=1,
        sg=1,
        hs=1,
        negative=0,
        epochs=epochs,
        seed=seed,
        workers=1,
    )
    return np.stack([model.wv[category_token(c)] for c in categories]).astype(np.float32)


def region_means(
    codes: np.ndarray, poi_region: np.ndarray, vectors: np.ndarray, n_regions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 7: per region, the mean vector of its POIs' categories and the POI count used.

    ``codes`` index rows of ``vectors`` (-1 = unknown category, skipped); ``poi_region`` is
    each POI's region position (-1 = outside every region, skipped).
    """
    codes = np.asarray(codes, dtype=np.int64)
    region = np.asarray(poi_region, dtype=np.int64)
    use = (codes >= 0) & (region >= 0)
    sums = np.zeros((n_regions, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, region[use], vectors[codes[use]])
    counts = np.bincount(region[use], minlength=n_regions)
    means = sums / np.maximum(counts, 1)[:, None]
    return means.astype(np.float32), counts


def category_counts(
    codes: np.ndarray, poi_region: np.ndarray, n_categories: int, n_regions: int
) -> np.ndarray:
    """Per-region POI category count vectors ``(n_regions, n_categories)`` (Eq. 3's POI^k)."""
    codes = np.asarray(codes, dtype=np.int64)
    region = np.asarray(poi_region, dtype=np.int64)
    use = (codes >= 0) & (region >= 0)
    flat = region[use] * n_categories + codes[use]
    counts = np.bincount(flat, minlength=n_regions * n_categories)
    return counts.reshape(n_regions, n_categories).astype(np.float32)
