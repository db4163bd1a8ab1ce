"""Positions within groups laid end to end, without a Python loop over the groups."""

from __future__ import annotations

import numpy as np


def ranks_within(lengths: np.ndarray) -> np.ndarray:
    """0, 1, .., n - 1 for each n in ``lengths``, concatenated: each element's rank within its group.

    >>> ranks_within(np.array([3, 0, 2])).tolist()
    [0, 1, 2, 0, 1]
    """
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
