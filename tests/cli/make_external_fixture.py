#!/usr/bin/python3
"""Writes tests/cli/data/external_fixture.csv (label, score, reference_score; ties included)
and external_fixture.txt (name value lines: scikit-learn's roc_auc_score and brier_score_loss of
both scores, the 10-bin expected calibration error, and the paired DeLong test of score against
reference_score: the AUC difference, its variance, z and the two-sided p), once. cli.predict
checks its awk versions of these (which it then applies to predict's predictions.csv, against
predict's metrics.json) on this file, so that the test run itself needs no Python.

DeLong here is the definitional form (DeLong, DeLong & Clarke-Pearson 1988): the structural
components V10 (per positive) and V01 (per negative) of each score, ties counted half, their
sample covariances S10 and S01 (divisor m-1, n-1), var(A-B) = (S10_AA + S10_BB - 2 S10_AB) / m +
(S01_AA + S01_BB - 2 S01_AB) / n."""
import math
import os

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
rng = np.random.default_rng(23)
y = rng.integers(0, 2, 48)
a = np.round(rng.random(48) * 0.6 + 0.3 * y, 2)  # two decimals: ties within and across classes
b = np.round(rng.random(48) * 0.7 + 0.2 * y + 0.1 * (a > 0.5), 2)


def ece(y, s, bins=10):
    k = np.minimum(np.floor(s * bins).astype(int), bins - 1)
    e = 0.0
    for j in range(bins):
        m = k == j
        if m.any():
            e += m.sum() / len(s) * abs(s[m].mean() - y[m].mean())
    return e


def components(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)  # V10 [m], V01 [n]


v10a, v01a = components(y, a)
v10b, v01b = components(y, b)
m, n = len(v10a), len(v01a)
s10 = np.cov(np.vstack([v10a, v10b]))  # divisor m-1
s01 = np.cov(np.vstack([v01a, v01b]))
var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
delta = v10a.mean() - v10b.mean()
z = delta / math.sqrt(var)
p = math.erfc(abs(z) / math.sqrt(2))
with open(os.path.join(here, "external_fixture.csv"), "w") as f:
    f.write("label,score,reference_score\n")
    for t, u, v in zip(y, a, b):
        f.write(f"{t},{u:.2f},{v:.2f}\n")
with open(os.path.join(here, "external_fixture.txt"), "w") as f:
    for name, val in [("auc", roc_auc_score(y, a)), ("reference_auc", roc_auc_score(y, b)),
                      ("brier", brier_score_loss(y, a)), ("reference_brier", brier_score_loss(y, b)),
                      ("ece", ece(y, a)), ("reference_ece", ece(y, b)),
                      ("delta_auc", delta), ("delta_var", var), ("delong_z", z), ("delong_p", p)]:
        f.write(f"{name} {val:.17g}\n")
