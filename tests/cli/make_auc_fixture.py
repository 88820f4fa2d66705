#!/usr/bin/python3
"""Writes tests/cli/data/auc_fixture.csv (label, score; ties included) and auc_fixture.txt
(scikit-learn's roc_auc_score of it), once. cli.predict checks its awk Mann-Whitney AUC (which
it then applies to predict's predictions.csv) against this value, so that the test run itself
needs no Python."""
import os
import numpy as np
from sklearn.metrics import roc_auc_score

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
rng = np.random.default_rng(17)
y = rng.integers(0, 2, 40)
s = np.round(rng.random(40) * 0.5 + 0.3 * y, 2)  # two decimals: ties within and across classes
with open(os.path.join(here, "auc_fixture.csv"), "w") as f:
    f.write("label,score\n")
    for a, b in zip(y, s):
        f.write(f"{a},{b:.2f}\n")
with open(os.path.join(here, "auc_fixture.txt"), "w") as f:
    f.write(f"{roc_auc_score(y, s):.17g}\n")
