#!/usr/bin/python3
"""The frozen variant of a finished run against scikit-learn on the same features (issue 13).

    /usr/bin/python3 bench/probe_vs_sklearn.py RUN_DIR CACHE_DIR WORKBENCH [VARIANT]

Reads the run's manifest.csv, folds.csv, predictions.csv and config.yaml; takes each image's
network input from the preprocessed cache (CACHE_DIR/<params>/<xx>/<key>.wbpre, the format of
docs/preprocess.md); computes the pooled backbone features with `WORKBENCH net forward
--features` (the run's arch, weights and in_channels); then, per outer fold, fits
StandardScaler + LogisticRegression (lbfgs, tol 1e-10, the run's class weighting) on the
fold's training images (training + validation patients: the inner split is not in the run
directory) at each C of the variant's grid and at C = 0.1, and prints the pooled out-of-fold
AUC of each next to the run's pooled AUC of VARIANT (default: frozen). Not a test: a check
that a run's probe is where a converged logistic regression on the same features is.
"""
import csv
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def flat_config(path):
    """The few scalar keys needed from the resolved config.yaml (two levels of nesting)."""
    out, sec, sub = {}, "", ""
    for line in open(path):
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        ind = len(line) - len(line.lstrip())
        k, _, v = line.strip().partition(":")
        v = v.strip().strip('"')
        if ind == 0:
            sec, sub = k, ""
            key = k
        elif ind == 2:
            sub = k
            key = sec + "." + k
        else:
            key = sec + "." + sub + "." + k
        out[key] = v
    return out


def read_entry(path):
    b = open(path, "rb").read()
    assert b[:8] == b"WBPRE\r\n\x1a", path
    rows, cols, nfeat = struct.unpack_from("<III", b, 80)
    off = 132 + 8 * nfeat
    return np.frombuffer(b, dtype="<f4", count=rows * cols, offset=off).reshape(rows, cols)


def main():
    run, cache, wb = sys.argv[1:4]
    variant = sys.argv[4] if len(sys.argv) > 4 else "frozen"
    cfg = flat_config(os.path.join(run, "config.yaml"))
    man = {r["sop_instance_uid"]: r for r in csv.DictReader(open(os.path.join(run, "manifest.csv")))}
    fold = {r["sop_instance_uid"]: int(r["fold"]) for r in csv.DictReader(open(os.path.join(run, "folds.csv")))
            if r["repeat"] == "0"}
    pred = [r for r in csv.DictReader(open(os.path.join(run, "predictions.csv")))
            if r["repeat"] == "0" and r["variant"] == variant]
    uids = [r["sop_instance_uid"] for r in pred]
    y = np.array([int(r["label"]) for r in pred])
    run_scores = np.array([float(r["score"]) for r in pred])
    # the parameter set of this run's input size (a cache holds one set per parameter text)
    sets = [d for d in os.listdir(cache) if os.path.isdir(os.path.join(cache, d))
            and "out_rows=%s\n" % cfg["preprocess.height"] in open(os.path.join(cache, d, "params.txt")).read()
            and "out_cols=%s\n" % cfg["preprocess.width"] in open(os.path.join(cache, d, "params.txt")).read()]
    imgs = []
    for u in uids:
        # the cache key: SHA-256 of the file's digest and the VOI mode (experiments/data/dataset.c)
        voi = "voi=ignore" if cfg.get("preprocess.voi") == "ignore" else "voi=apply"
        sha = hashlib.sha256(bytes.fromhex(man[u]["sha256"]) + voi.encode()).hexdigest()
        hits = [os.path.join(cache, s, sha[:2], sha + ".wbpre") for s in sets
                if os.path.exists(os.path.join(cache, s, sha[:2], sha + ".wbpre"))]
        imgs.append(read_entry(hits[0]))
    X = np.stack(imgs)[:, None].astype(np.float32)
    C_in = int(cfg.get("backbone.in_channels", "1"))
    if C_in > 1:
        X = np.repeat(X, C_in, axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), X)
        subprocess.run([wb, "net", "forward", "--arch", cfg["backbone.arch"], "--weights", cfg["backbone.weights"],
                        "--in-channels", str(C_in), "--input", os.path.join(tmp, "x.npy"),
                        "--output", os.path.join(tmp, "f.npy"), "--features"], check=True)
        F = np.load(os.path.join(tmp, "f.npy")).astype(np.float64)
    f = np.array([fold[u] for u in uids])
    cw = "balanced" if cfg.get("train.class_weight", "balanced") == "balanced" else None
    grid = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3, 10, 30, 100]
    print("run %s, variant %s: %d images, %d features, pooled AUC %.4f" % (os.path.basename(run.rstrip("/")), variant,
                                                                       len(y), F.shape[1], roc_auc_score(y, run_scores)))
    for C in grid:
        s = np.zeros(len(y))
        for k in np.unique(f):
            tr, te = f != k, f == k
            sc = StandardScaler().fit(F[tr])
            m = LogisticRegression(C=C, tol=1e-10, max_iter=100000, class_weight=cw).fit(sc.transform(F[tr]), y[tr])
            s[te] = m.predict_proba(sc.transform(F[te]))[:, 1]
        print("  sklearn LogisticRegression C=%-7g pooled out-of-fold AUC %.4f" % (C, roc_auc_score(y, s)))


if __name__ == "__main__":
    main()
