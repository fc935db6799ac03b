"""Tiny dense linear algebra with a fixed operation order.

LAPACK routines may block and thread differently per build, so a verdict
that depends on a matrix inverse could differ between machines in its last
bits. The matrices here are N×N (N = participants), so a textbook
Gauss-Jordan using only element-wise numpy operations (each correctly
rounded, in a fixed order) is cheap and reproducible.
"""

from __future__ import annotations

import numpy as np


def spd_inverse_diagonal(matrix: np.ndarray) -> np.ndarray:
    """Diagonal of the inverse of a symmetric positive definite matrix."""
    work = np.array(matrix, dtype=np.float64, copy=True)
    size = work.shape[0]
    inverse = np.eye(size)
    for k in range(size):
        pivot = work[k, k]
        work[k] = work[k] / pivot
        inverse[k] = inverse[k] / pivot
        factors = work[:, k].copy()
        factors[k] = 0.0
        work -= factors[:, None] * work[k][None, :]
        inverse -= factors[:, None] * inverse[k][None, :]
    return np.diag(inverse).copy()


def explained_fractions(products: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """R² of regressing each vector on all the others, from their Gram matrix.

    For the correlation matrix C (unit diagonal), 1 − 1/(C⁻¹)_ii is the share
    of vector i's squared norm lying in the span of the others. `ridge` keeps
    C invertible when updates are duplicated or collinear.
    """
    norms = np.sqrt(np.diag(products))
    safe = np.where(norms > 0, norms, 1.0)
    corr = products / safe[:, None] / safe[None, :]
    corr = corr + ridge * np.eye(corr.shape[0])
    return 1.0 - 1.0 / (spd_inverse_diagonal(corr) * corr.diagonal())
