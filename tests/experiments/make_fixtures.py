#!/usr/bin/python3
"""Reference values for tests/experiments (metrics, DeLong, t-test, logistic regression).

Run with Debian's interpreter (it has scikit-learn 1.2, NumPy, SciPy):

    /usr/bin/python3 tests/experiments/make_fixtures.py [probe]

and commit the text files it writes to tests/experiments/fixtures/. The format is one record
per line, `name count v1 v2 ...`, grouped into blocks that open with `case NAME` and close
with `end`; numbers are written with repr() so they round-trip exactly.

Sources of truth:
- scikit-learn for every binary metric, the curves and the one-vs-rest AUC;
- NumPy for the ECE (no scikit-learn function) and for the threshold choices, computed from
  sklearn's roc_curve;
- an independent O(m n) NumPy DeLong (structural components of DeLong et al. 1988, pairwise
  kernel, no ranks) for the fast midrank version in C, plus Hanley & McNeil (1982)'s CT
  rating data with its published AUC 0.893 and standard error 0.032;
- scipy.stats.t for the t distribution and the corrected resampled t-test;
- sklearn's LogisticRegression(lbfgs, tol=1e-10) for the coefficients, both as one fit
  returns them and continued with warm_start to sklearn's own optimum (see make_logreg);
- for multi-class labels (multiclass.txt): accuracy_score, balanced_accuracy_score,
  f1_score(average='macro'), log_loss(labels=range(K)), roc_auc_score(multi_class='ovr') on
  synthetic probabilities, and LogisticRegression(multi_class='multinomial');
- for the linear probe (probe.txt): StandardScaler + LogisticRegression(newton-cg, tol 1e-14)
  at each C of a grid, log_loss on validation rows (class-balanced sample weights when
  class_weight is balanced) to choose C, and predict_proba of test rows at the chosen C,
  binary and multinomial (see make_probe);
- for the runner (run_mc.txt): the same sklearn metrics recomputed from the committed
  multi-class run's predictions.csv (tests/report/data/fixture-run-mc/), per fold and pooled,
  image and breast level, the breast level aggregated here in NumPy (see make_run_mc).
"""
import os
import sys
import warnings

import numpy as np
import scipy.stats
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             brier_score_loss, f1_score, log_loss, precision_recall_curve,
                             precision_score, recall_score, roc_auc_score, roc_curve)
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


class Writer:
    def __init__(self, name):
        self.path = os.path.join(OUT, name)
        self.lines = ["# made by make_fixtures.py with scikit-learn %s, NumPy %s, SciPy %s"
                      % (sklearn.__version__, np.__version__, scipy.__version__)]

    def case(self, name):
        self.lines.append("case " + name)

    def end(self):
        self.lines.append("end")

    def put(self, key, values):
        v = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
        self.lines.append("%s %d %s" % (key, v.size, " ".join(repr(float(x)) for x in v)))

    def close(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        os.replace(tmp, self.path)
        print("wrote", os.path.relpath(self.path, HERE), file=sys.stderr)


# ---------------------------------------------------------------- reference implementations

def ece(y, s, w=None, bins=10):
    """10 equal-width bins, index min(floor(s*bins), bins-1), weighted by count (or weight)."""
    w = np.ones_like(s) if w is None else w
    idx = np.minimum(np.floor(s * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        wb = w[m].sum()
        if wb > 0:
            total += wb / w.sum() * abs(np.sum(w[m] * s[m]) / wb - np.sum(w[m] * y[m]) / wb)
    return total


def delong_naive(y, scores):
    """Classic DeLong structural components with the pairwise kernel psi, O(m n).
    scores: list of score vectors. Returns aucs, covariance matrix."""
    pos = y == 1
    v10s, v01s, aucs = [], [], []
    for s in scores:
        x, z = s[pos], s[~pos]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = pos.sum(), (~pos).sum()
    s10 = np.cov(np.array(v10s), ddof=1).reshape(len(scores), len(scores))
    s01 = np.cov(np.array(v01s), ddof=1).reshape(len(scores), len(scores))
    return np.array(aucs), s10 / m + s01 / n


def thresholds_from_roc(y, s, w):
    """Youden, target sensitivity / specificity, sensitivity at specificity, from sklearn's
    full ROC curve. Index 0 of sklearn's curve (max+1 in 1.2) is written as inf."""
    fpr, tpr, thr = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    thr = thr.copy()
    thr[0] = np.inf
    out = {}
    j = tpr[1:] - fpr[1:]
    out["youden"] = thr[1:][np.argmax(j)]
    for tgt in (0.8, 0.9, 0.95):
        k = np.nonzero(tpr[1:] >= tgt - 1e-12)[0][0] + 1
        out["thr_sens_%g" % tgt] = thr[k]
        spec = 1 - fpr
        k = np.nonzero(spec >= tgt - 1e-12)[0][-1]
        out["thr_spec_%g" % tgt] = thr[k]
        ok = spec >= tgt - 1e-12
        best = tpr[ok].max()
        out["sens_at_spec_%g" % tgt] = [best, thr[ok & (tpr == best)].max()]
    return out


# ------------------------------------------------------------------------------- metrics

def binary_case(W, name, y, s, w=None, s2=None, drop=True, delong=True):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=np.float64)
    W.case(name)
    W.put("y", y)
    W.put("s", s)
    if w is not None:
        W.put("w", w)
    W.put("auc", roc_auc_score(y, s, sample_weight=w))
    W.put("ap", average_precision_score(y, s, sample_weight=w))
    if s.min() >= 0 and s.max() <= 1:
        W.put("brier", brier_score_loss(y, s, sample_weight=w))
        W.put("ece10", ece(y, s, w, 10))
        W.put("ece5", ece(y, s, w, 5))
    for d in ((False, True) if drop else (False,)):
        fpr, tpr, thr = roc_curve(y, s, sample_weight=w, drop_intermediate=d)
        tag = "roc_drop" if d else "roc"
        W.put(tag + "_fpr", fpr)
        W.put(tag + "_tpr", tpr)
        W.put(tag + "_thr", thr[1:])  # thr[0] is max+1 in sklearn 1.2, +inf in C
    p, r, t = precision_recall_curve(y, s, sample_weight=w)
    W.put("pr_precision", p)
    W.put("pr_recall", r)
    W.put("pr_thr", t)
    ts = [0.3, 0.5, 0.7] if s.min() >= 0 and s.max() <= 1 else [np.median(s)]
    W.put("thresholds", ts)
    rows = []
    for t in ts:
        pred = (s >= t).astype(int)
        rows.append([
            accuracy_score(y, pred, sample_weight=w),
            balanced_accuracy_score(y, pred, sample_weight=w),
            recall_score(y, pred, sample_weight=w, zero_division=0),
            recall_score(1 - y, 1 - pred, sample_weight=w, zero_division=0),
            precision_score(y, pred, sample_weight=w, zero_division=0),
            f1_score(y, pred, sample_weight=w, zero_division=0),
        ])
    W.put("at_threshold", rows)  # per threshold: acc, bacc, sens, spec, precision, f1
    for k, v in thresholds_from_roc(y, s, w).items():
        W.put(k, v)
    if delong and w is None and y.sum() >= 2 and (1 - y).sum() >= 2:
        if s2 is None:
            aucs, cov = delong_naive(y, [s])
            W.put("delong", [aucs[0], cov[0, 0]])
        else:
            s2 = np.asarray(s2, dtype=np.float64)
            W.put("s2", s2)
            aucs, cov = delong_naive(y, [s, s2])
            W.put("delong", [aucs[0], cov[0, 0]])
            d = aucs[0] - aucs[1]
            vd = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
            z = d / np.sqrt(vd)
            p = 2 * scipy.stats.norm.sf(abs(z))
            W.put("delong_paired", [aucs[0], aucs[1], cov[0, 0], cov[1, 1], cov[0, 1], z, p])
    W.end()


def make_metrics(rng):
    W = Writer("metrics.txt")
    # sklearn's documented example
    binary_case(W, "sklearn_doc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    # continuous scores, no ties, a correlated second score for the paired test
    n = 240
    y = (rng.random(n) < 0.3).astype(int)
    logit = 1.2 * y + rng.normal(size=n)
    s = 1 / (1 + np.exp(-logit))
    s2 = 1 / (1 + np.exp(-(0.6 * logit + 0.8 * rng.normal(size=n))))
    binary_case(W, "random", y, s, s2=s2)
    # heavy ties: scores rounded to one decimal, second score rounded to 0.2
    st = np.round(s, 1)
    binary_case(W, "tied", y, st, s2=np.round(s2 * 5) / 5)
    # weighted, with ties (weights are not used by DeLong)
    wt = rng.uniform(0.1, 3.0, size=n)
    binary_case(W, "weighted", y, st, w=wt, drop=False)
    # integer weights, so drop_intermediate sees exact second differences
    wi = rng.integers(1, 4, size=n).astype(np.float64)
    binary_case(W, "int_weighted", y, st, w=wi)
    # a single positive
    n1 = 30
    y1 = np.zeros(n1, dtype=int)
    y1[7] = 1
    binary_case(W, "single_positive", y1, rng.random(n1))
    # unbounded scores (logits): no Brier / ECE
    binary_case(W, "logits", y, logit, s2=logit + rng.normal(size=n))
    # every score equal: AUC 0.5
    binary_case(W, "all_tied", [0, 1, 0, 1, 1, 0], [0.5] * 6)
    # perfect separation
    binary_case(W, "perfect", [0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    # Hanley & McNeil (1982), Table 1: CT ratings 1..5 of 58 normal and 51 abnormal patients
    neg, pos = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    yh = np.array([0] * sum(neg) + [1] * sum(pos))
    sh = np.array([r + 1 for r, c in enumerate(neg) for _ in range(c)] +
                  [r + 1 for r, c in enumerate(pos) for _ in range(c)], dtype=np.float64)
    binary_case(W, "hanley_mcneil_1982", yh, sh)

    # one-vs-rest macro AUC (probabilities summing to 1, as sklearn insists)
    for K, nm in ((3, 150), (4, 200)):
        yk = rng.integers(0, K, size=nm)
        z = rng.normal(size=(nm, K)) + 1.5 * np.eye(K)[yk]
        z = np.round(z, 1)  # some ties
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        wk = rng.uniform(0.5, 2.0, size=nm)
        W.case("ovr_k%d" % K)
        W.put("K", K)
        W.put("y", yk)
        W.put("p", p)
        W.put("w", wk)
        W.put("macro", roc_auc_score(yk, p, multi_class="ovr", average="macro"))
        W.put("macro_weighted", roc_auc_score(yk, p, multi_class="ovr", average="macro",
                                              sample_weight=wk))
        W.put("per_class", [roc_auc_score(yk == c, p[:, c]) for c in range(K)])
        W.end()
    W.close()


# ---------------------------------------------------------------------------------- t-test

def make_ttest(rng):
    W = Writer("ttest.txt")
    W.case("t_cdf")
    grid = []
    for df in (1, 2, 3.5, 4, 9, 29, 100, 1000):
        for t in (-50, -8, -2.5, -1, -0.1, 0, 0.3, 1.7, 3, 10, 40):
            grid.append([t, df, scipy.stats.t.cdf(t, df), scipy.stats.t.sf(abs(t), df) * 2])
    W.put("grid", grid)  # t, df, cdf, two-sided p
    W.end()
    W.case("betainc")
    rows = []
    for a, b, x in ((0.5, 0.5, 0.3), (2, 3, 0.4), (10, 0.5, 0.95), (0.5, 10, 0.01),
                    (50, 60, 0.45), (1, 1, 0.7), (3.5, 0.5, 0.999), (200, 0.5, 0.99)):
        rows.append([a, b, x, scipy.special.betainc(a, b, x)])
    W.put("grid", rows)
    W.end()
    # corrected resampled t-test: 10 folds x 1 repeat and 5 folds x 3 repeats
    for name, k, n_tr, n_te, shift in (("k10", 10, 432.0, 48.0, 0.02),
                                       ("k15", 15, 384.0, 96.0, 0.005)):
        a = 0.80 + 0.03 * rng.normal(size=k)
        b = a - shift + 0.02 * rng.normal(size=k)
        d = a - b
        var = d.var(ddof=1)
        t = d.mean() / np.sqrt((1 / k + n_te / n_tr) * var)
        p = 2 * scipy.stats.t.sf(abs(t), k - 1)
        W.case("ttest_" + name)
        W.put("a", a)
        W.put("b", b)
        W.put("sizes", [n_tr, n_te])
        W.put("result", [d.mean(), var, t, p, k - 1])
        W.end()
    W.close()


# ---------------------------------------------------------------------- logistic regression

def make_logreg(rng):
    W = Writer("logreg.txt")
    sets = []
    n, d = 300, 6
    X = rng.normal(size=(n, d)) * [1, 5, 0.1, 2, 30, 1] + [0, 10, -3, 0, 100, 1]
    beta = np.array([1.0, -0.4, 8.0, 0.0, 0.03, 0.7])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X - X.mean(0)) @ beta + 1.0))).astype(int)
    sets.append(("scaled", X, y, [(1.0, None), (0.01, None), (100.0, None), (1.0, "balanced")]))
    # imbalanced, more features than are informative, a constant column
    n2, d2 = 200, 12
    X2 = rng.normal(size=(n2, d2))
    X2[:, 5] = 3.0
    y2 = (X2[:, 0] + 0.5 * X2[:, 1] + rng.normal(size=n2) > 1.6).astype(int)
    sets.append(("imbalanced", X2, y2, [(0.5, None), (0.5, "balanced")]))
    # separable data: only the penalty keeps the solution finite
    X3 = rng.normal(size=(60, 2))
    y3 = (X3[:, 0] > 0).astype(int)
    sets.append(("separable", X3, y3, [(10.0, None)]))
    for name, X, y, fits in sets:
        sc = StandardScaler().fit(X)
        Z = sc.transform(X)
        W.case(name)
        W.put("shape", [X.shape[0], X.shape[1]])
        W.put("X", X)
        W.put("y", y)
        W.put("mean", sc.mean_)
        W.put("scale", sc.scale_)
        for C, cw in fits:
            m = LogisticRegression(penalty="l2", C=C, solver="lbfgs", tol=1e-10,
                                   max_iter=10000, class_weight=cw).fit(Z, y)
            # scipy's L-BFGS-B also stops on a relative decrease of the objective below its
            # ftol (2.2e-9, not settable through sklearn) before reaching gtol = tol, which
            # leaves coefficients up to ~5e-5 from the optimum. Refitting with warm_start
            # continues from the previous solution until the coefficients stop moving: that is
            # sklearn's own optimum of the same objective, the reference for the 1e-5 check.
            ws = LogisticRegression(penalty="l2", C=C, solver="lbfgs", tol=1e-10,
                                    max_iter=10000, class_weight=cw, warm_start=True).fit(Z, y)
            for _ in range(100):
                prev = np.r_[ws.coef_[0], ws.intercept_]
                ws.fit(Z, y)
                if np.abs(np.r_[ws.coef_[0], ws.intercept_] - prev).max() < 1e-13:
                    break
            # each fit: C, balanced; then the single fit's coef, intercept, P(y=1) of the
            # first 20 rows; then the same three after warm-start refits
            W.put("fit", [C, 1 if cw == "balanced" else 0])
            W.put("coef", m.coef_[0])
            W.put("intercept", m.intercept_[0])
            W.put("proba", m.predict_proba(Z[:20])[:, 1])
            W.put("coef_ws", ws.coef_[0])
            W.put("intercept_ws", ws.intercept_[0])
            W.put("proba_ws", ws.predict_proba(Z[:20])[:, 1])
        W.end()
    W.close()


# ------------------------------------------------------------------------------ multi-class

def mc_put_metrics(W, y, p, K):
    """What the runner reports for n x K probabilities p: the predicted class is argmax."""
    pred = np.argmax(p, axis=1)
    W.put("pred", pred)
    W.put("accuracy", accuracy_score(y, pred))
    W.put("balanced_accuracy", balanced_accuracy_score(y, pred))
    W.put("f1_macro", f1_score(y, pred, average="macro", zero_division=0))
    W.put("log_loss", log_loss(y, p, labels=list(range(K))))
    if len(np.unique(y)) == K:
        W.put("macro_auc", roc_auc_score(y, p, multi_class="ovr",
                                         average="macro", labels=list(range(K))))
        W.put("per_class_auc", [roc_auc_score(y == c, p[:, c]) for c in range(K)])


def make_multiclass(rng):
    W = Writer("multiclass.txt")
    for K, nm in ((3, 120), (5, 200)):
        y = rng.integers(0, K, size=nm)
        z = np.round(rng.normal(size=(nm, K)) + 1.2 * np.eye(K)[y], 1)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        W.case("mc_k%d" % K)
        W.put("K", K)
        W.put("y", y)
        W.put("p", p)
        mc_put_metrics(W, y, p, K)
        W.end()
    # a class never true but predicted, another never predicted; one probability exactly 0
    # (log loss clips it) and rows that do not sum to 1 (log loss renormalises them)
    K = 4
    y = np.array([0, 0, 1, 1, 1, 2, 2, 0, 1, 2, 0, 1])
    p = rng.uniform(0.05, 1.0, size=(len(y), K))
    p[2, 3] = 1.0
    p[5, 3] = 0.99
    p[0, 0] = 0.0
    W.case("mc_missing")
    W.put("K", K)
    W.put("y", y)
    W.put("p", p)
    mc_put_metrics(W, y, p, K)
    W.end()
    # multinomial logistic regression on standardised features
    n, d, K = 240, 5, 3
    X = rng.normal(size=(n, d)) * [1, 4, 0.5, 2, 10] + [0, 3, -1, 0, 50]
    B = rng.normal(size=(K, d)) * [1.5, 0.3, 2.0, 0.5, 0.1]
    logits = (X - X.mean(0)) @ B.T + [0.5, 0.0, -0.8] + rng.normal(size=(n, K))
    y = np.argmax(logits, axis=1)
    Z = StandardScaler().fit_transform(X)
    W.case("logreg_mn")
    W.put("shape", [n, d, K])
    W.put("Z", Z)
    W.put("y", y)
    for C, cw in ((1.0, None), (0.1, "balanced"), (50.0, None)):
        kw = dict(penalty="l2", C=C, solver="lbfgs", tol=1e-10, max_iter=10000, class_weight=cw,
                  multi_class="multinomial")
        m = LogisticRegression(**kw).fit(Z, y)
        ws = LogisticRegression(warm_start=True, **kw).fit(Z, y)
        for _ in range(100):  # continued to sklearn's own optimum, as in make_logreg
            prev = np.r_[ws.coef_.ravel(), ws.intercept_]
            ws.fit(Z, y)
            if np.abs(np.r_[ws.coef_.ravel(), ws.intercept_] - prev).max() < 1e-13:
                break
        W.put("fit", [C, 1 if cw == "balanced" else 0])
        W.put("coef", m.coef_)
        W.put("intercept", m.intercept_)
        W.put("proba", m.predict_proba(Z[:20]))
        W.put("coef_ws", ws.coef_)
        W.put("intercept_ws", ws.intercept_)
        W.put("proba_ws", ws.predict_proba(Z[:20]))
    W.end()
    W.close()


def make_run_mc():
    """sklearn's numbers on the committed multi-class run's out-of-fold predictions.

    Breast level as the runner defines it (docs/metrics.md): the views of one breast (patient
    pseudonym + laterality) averaged per class ('mean', the run's metrics.breast_aggregate),
    label = the largest class index of the views, breasts ordered by pseudonym, laterality."""
    import csv
    import json
    run = os.path.join(HERE, "..", "report", "data", "fixture-run-mc")
    with open(os.path.join(run, "metrics.json")) as f:
        classes = json.load(f)["classes"]
    K = len(classes)
    with open(os.path.join(run, "predictions.csv")) as f:
        rows = list(csv.DictReader(f))
    W = Writer("run_mc.txt")
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for v in variants:
        vr = [r for r in rows if r["variant"] == v and r["repeat"] == "0"]
        y = np.array([classes.index(r["label"]) for r in vr])
        p = np.array([[float(r["score_" + c]) for c in classes] for r in vr])
        fold = np.array([int(r["fold"]) for r in vr])
        key = [(r["patient"], r["laterality"]) for r in vr]
        for level in ("image", "breast"):
            for f in ["pooled"] + sorted(set(fold.tolist())):
                m = np.ones(len(y), bool) if f == "pooled" else fold == f
                yy, pp = y[m], p[m]
                if level == "breast":
                    ks = [key[i] for i in np.nonzero(m)[0]]
                    groups = sorted(set(ks))
                    yy = np.array([max(yy[j] for j in range(len(ks)) if ks[j] == g) for g in groups])
                    pp = np.array([pp[[j for j in range(len(ks)) if ks[j] == g]].mean(axis=0) for g in groups])
                W.case("%s/%s/%s" % (v, level, f))
                mc_put_metrics(W, yy, pp, K)
                W.put("n", len(yy))
                W.end()
    W.close()


def make_probe(rng):
    """The linear probe on a small feature matrix like pooled ReLU features (non-negative,
    scales from 0.01 to 10, one column constant): per C of the grid the validation log loss,
    the C chosen (lowest loss; ties: the smaller C), and the test probabilities at that C."""
    W = Writer("probe.txt")
    grid = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0, 30.0, 100.0]
    d = 10
    scales = np.array([1, 0.01, 5, 0.3, 10, 1, 2, 0.05, 1, 1.0])
    for name, K, cw, ntr, nva, nte in [("binary", 2, None, 60, 24, 30), ("binary_balanced", 2, "balanced", 60, 24, 30),
                                       ("multinomial", 3, "balanced", 90, 30, 30)]:
        n = ntr + nva + nte
        y = np.arange(n) % K if K > 2 else (rng.random(n) < 0.3).astype(int)
        centres = rng.normal(size=(K, d)) * 0.6
        X = np.maximum(0.0, (rng.normal(size=(n, d)) + centres[y] + 0.5)) * scales
        X[:, 5] = 0.25  # a channel that is always zero after ReLU, here a constant
        Xtr, ytr = X[:ntr], y[:ntr]
        Xva, yva = X[ntr:ntr + nva], y[ntr:ntr + nva]
        Xte = X[ntr + nva:]
        sc = StandardScaler().fit(Xtr)
        Ztr, Zva, Zte = sc.transform(Xtr), sc.transform(Xva), sc.transform(Xte)
        if cw == "balanced":
            cnt = np.bincount(yva, minlength=K)
            sw = 1.0 / cnt[yva]
        else:
            sw = np.ones(nva)
        losses, models = [], []
        for C in grid:
            # newton-cg converges quadratically; its own stopping test may not pass a tight tol
            # in floating point (hence the warnings filter), so convergence is checked here on
            # the gradient of the objective 0.5 |W|^2 + C sum s_i (-log p_i(y_i))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = LogisticRegression(penalty="l2", C=C, solver="newton-cg", tol=1e-12, max_iter=200,
                                       class_weight=cw, multi_class="multinomial" if K > 2 else "auto").fit(Ztr, ytr)
            s_tr = np.ones(ntr) if cw is None else (ntr / (K * np.bincount(ytr, minlength=K)))[ytr]
            if K == 2:
                r = C * s_tr * (m.predict_proba(Ztr)[:, 1] - ytr)
                g = np.r_[m.coef_[0] + Ztr.T @ r, r.sum()]
            else:
                R = C * s_tr[:, None] * (m.predict_proba(Ztr) - np.eye(K)[ytr])
                g = np.r_[(m.coef_ + R.T @ Ztr).ravel(), R.sum(0)]
            assert np.abs(g).max() < 1e-9 * (1 + C * s_tr.sum()), (name, C, np.abs(g).max())
            losses.append(log_loss(yva, m.predict_proba(Zva), sample_weight=sw, labels=list(range(K))))
            models.append(m)
        losses = np.array(losses)
        best = int(np.argmin(losses))
        gap = np.sort(losses)[1] - losses[best]
        assert gap > 1e-6, (name, gap)  # no near-tie: the choice is not a rounding question
        assert 0 < best < len(grid) - 1, (name, best)  # an interior optimum
        P = models[best].predict_proba(Zte)
        W.case(name)
        W.put("shape", [ntr, nva, nte, d, K, 1 if cw == "balanced" else 0])
        W.put("grid", grid)
        W.put("Xtr", Xtr)
        W.put("ytr", ytr)
        W.put("Xva", Xva)
        W.put("yva", yva)
        W.put("Xte", Xte)
        W.put("val_loss", losses)
        W.put("chosen", best)
        W.put("proba", P[:, 1] if K == 2 else P)
        W.end()
    W.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ["probe"]:  # only probe.txt: the others stay as committed
        make_probe(np.random.default_rng(20240505))
        return
    make_metrics(np.random.default_rng(20240501))
    make_ttest(np.random.default_rng(20240502))
    make_logreg(np.random.default_rng(20240503))
    make_multiclass(np.random.default_rng(20240504))
    make_probe(np.random.default_rng(20240505))
    if os.path.exists(os.path.join(HERE, "..", "report", "data", "fixture-run-mc", "predictions.csv")):
        make_run_mc()


if __name__ == "__main__":
    main()
