"""DeLong's test for two correlated ROC AUCs measured on the same rows.

DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach", Biometrics 44(3). The
AUC is the Mann-Whitney statistic; its variance comes from the placement values ("structural
components") V10 of the positives and V01 of the negatives. They are computed here with
midranks in O(n log n) (Sun & Xu, 2014, "Fast implementation of DeLong's algorithm",
IEEE Signal Processing Letters 21(11)), which gives exactly the 1988 quantities.

One-sided, like every gate test: H0: AUC_candidate - AUC_champion <= -margin, H1: greater.
z = (diff + margin) / se(diff), p = 1 - Phi(z); the reported interval is diff ± z_(1-alpha)·se.

>>> y = [0, 0, 0, 0, 1, 1, 1, 1]
>>> champion = [0.1, 0.4, 0.35, 0.8, 0.3, 0.7, 0.6, 0.9]
>>> candidate = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9]
>>> result = delong_test(y, champion, candidate, alpha=0.05)
>>> round(result.details["auc_candidate"], 4), round(result.details["auc_champion"], 4)
(1.0, 0.6875)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from retrainer.domain.validation import StatTestResult
from retrainer.exceptions import ValidationError


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (``scipy.stats.rankdata``)."""
    return np.asarray(sps.rankdata(values, method="average"), dtype="float64")


def placements(y: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUC, V10 per positive, V01 per negative) of one score, by midranks.

    V10_i = share of negatives scored below positive i (ties count half); V01_j = share of
    positives scored above negative j; AUC = mean(V10) = mean(V01).
    """
    positive = y == 1
    pos, neg = scores[positive], scores[~positive]
    m, n = len(pos), len(neg)
    all_ranks = midranks(np.concatenate([pos, neg]))
    pos_ranks, neg_ranks = midranks(pos), midranks(neg)
    v10 = (all_ranks[:m] - pos_ranks) / n
    v01 = 1.0 - (all_ranks[m:] - neg_ranks) / m
    return float(v10.mean()), v10, v01


def delong_covariance(y: Any, *scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """(AUCs, their covariance matrix) for several scores of the same binary labels."""
    labels = np.asarray(y).reshape(-1)
    if not np.isin(labels, (0, 1)).all():
        raise ValidationError("DeLong's test needs binary labels coded 0/1")
    m, n = int((labels == 1).sum()), int((labels == 0).sum())
    if m < 2 or n < 2:
        raise ValidationError(f"DeLong's test needs two rows of each class (got {m} and {n})")
    parts = [placements(labels, np.asarray(s, dtype="float64").reshape(-1)) for s in scores]
    aucs = np.array([p[0] for p in parts])
    v10 = np.vstack([p[1] for p in parts])
    v01 = np.vstack([p[2] for p in parts])
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, covariance


def delong_test(
    y: Any, champion_scores: Any, candidate_scores: Any, alpha: float, margin: float = 0.0
) -> StatTestResult:
    """One-sided DeLong test that the candidate's AUC exceeds the champion's minus ``margin``.

    Scores are P(class 1) (any monotone score works). Raises ValidationError for non-binary
    labels or fewer than two rows of a class. Identical scores give p = 1.
    """
    labels = np.asarray(y).reshape(-1)
    aucs, cov = delong_covariance(labels, champion_scores, candidate_scores)
    diff = float(aucs[1] - aucs[0])
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    details = {"auc_champion": float(aucs[0]), "auc_candidate": float(aucs[1]),
               "se": math.sqrt(max(variance, 0.0)), "covariance": cov.tolist()}
    if variance <= 1e-15:
        p = 0.0 if diff + margin > 0 else 1.0
        return StatTestResult("delong", None, p, alpha, p < alpha, len(labels), None,
                              margin=margin or None, ci_low=diff, ci_high=diff,
                              confidence=1 - alpha, estimate=diff, details=details)
    se = math.sqrt(variance)
    z = (diff + margin) / se
    p = float(sps.norm.sf(z))
    half = float(sps.norm.ppf(1 - alpha)) * se
    return StatTestResult("delong", float(z), p, alpha, p < alpha, len(labels), None,
                          margin=margin or None, ci_low=diff - half, ci_high=diff + half,
                          confidence=1 - alpha, estimate=diff, details=details)
