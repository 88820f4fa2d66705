#!/usr/bin/python3
"""The PyTorch + scikit-learn peer of a finished `workbench run` (bench/experiment.sh).

    /usr/bin/python3 bench/experiment_torch.py RUN_DIR CACHE_DIR WEIGHTS VARIANTS
        [--threads N] [--epochs E] [--batch B] [--lr LR] [--flip 0|1] [--seed S]

VARIANTS is "name:unfreeze,..." with unfreeze none, all, one stage of the CIFAR ResNet
(layer1|layer2|layer3) or the last stages joined by "+" (layer2+layer3: a depth sweep's
variant), e.g. "frozen:none,last:layer3,full:all".

The same experiment written the plain way: the run's images, taken from the workbench's
preprocessed cache (the export both sides read: CACHE_DIR/<params>/<xx>/<key>.wbpre, format in
docs/preprocess.md), so both see the same input pixels; the run's outer folds (folds.csv,
repeat 0); a CIFAR ResNet-20 (option A shortcuts, as the weights' home repository defines it)
loaded from WEIGHTS, fed the grey image repeated over RGB under ImageNet mean/std (what
backbone.in_channels 1 with preprocess.normalize auto computes); per fold an inner
validation split of 20% of the training patients (the peer's own seeded draw: the run's inner
split is not in the run directory); then per variant:

- unfreeze none: the pooled features of every image (eval mode, computed once, as the
  workbench's shared feature cache), StandardScaler + LogisticRegression (lbfgs, balanced class
  weights) at each C of the workbench's grid, C chosen by validation log loss;
- otherwise: the same probe (on the same once-computed features) loaded into the head (linear probing, then fine-tuning), the
  stages before the unfrozen ones with requires_grad False and every BN in eval mode (bn:
  frozen), SGD momentum 0.9, weight decay 1e-4, cosine schedule over the steps, gradient-norm
  clip 1, balanced cross-entropy, random vertical flips when --flip 1, validation AUC after each
  epoch, the best epoch kept, test images scored.

Prints one tab-separated line per variant: name, seconds (sum over folds, the frozen variant
including its one feature pass), pooled out-of-fold AUC; and a "# blas" line naming the BLAS
core OpenBLAS chose in this process (when torch loaded OpenBLAS) and torch's conv backend.
Not a test: nothing asserts on time.
"""
import argparse
import copy
import csv
import ctypes
import hashlib
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.preprocessing import StandardScaler

GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3, 10, 30, 100]


# ---------------------------------------------------------------- CIFAR ResNet (akamaster)
class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin if (stride != 1 or cin != cout) else 0
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.pad:  # option A: subsample and zero-pad the channels
            sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad // 2))
        return F.relu(out + sc)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CifarResNet(nn.Module):
    """Takes the grey image in [0, 1] (1 channel) and feeds the RGB network that image repeated
    over three channels under ImageNet mean/std: the input convention of these weights, as the
    workbench's `preprocess.normalize: auto` applies it (folded into its conv1)."""

    def __init__(self, n=3, in_ch=3, classes=2):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        chans, cin, layers = [16, 32, 64], 16, []
        for i, c in enumerate(chans):
            blocks = []
            for j in range(n):
                blocks.append(Block(cin, c, 2 if (i > 0 and j == 0) else 1))
                cin = c
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, classes)

    def features(self, x):
        if x.shape[1] == 1:
            x = (x.expand(-1, 3, -1, -1) - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        return self.linear(self.features(x))


def load_backbone(weights):
    m = CifarResNet()
    sd = torch.load(weights, map_location="cpu")
    sd = sd.get("state_dict", sd)
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    sd.pop("linear.weight")
    sd.pop("linear.bias")
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert set(missing) == {"linear.weight", "linear.bias", "mean", "std"} and not unexpected, (missing, unexpected)
    return m


# ---------------------------------------------------------------- the run's data
def read_entry(path):
    b = open(path, "rb").read()
    assert b[:8] == b"WBPRE\r\n\x1a", path
    rows, cols, nfeat = struct.unpack_from("<III", b, 80)
    off = 132 + 8 * nfeat
    return np.frombuffer(b, dtype="<f4", count=rows * cols, offset=off).reshape(rows, cols)


def load_run(run, cache, height, width, voi="voi=apply"):
    man = list(csv.DictReader(open(os.path.join(run, "manifest.csv"))))
    fold = {r["sop_instance_uid"]: int(r["fold"]) for r in csv.DictReader(open(os.path.join(run, "folds.csv")))
            if r["repeat"] == "0"}
    sets = [d for d in os.listdir(cache) if os.path.isdir(os.path.join(cache, d))
            and "out_rows=%d\n" % height in open(os.path.join(cache, d, "params.txt")).read()
            and "out_cols=%d\n" % width in open(os.path.join(cache, d, "params.txt")).read()]
    imgs, y, f, g = [], [], [], []
    for r in man:
        # the cache key: SHA-256 of the file's digest and the VOI mode (experiments/data/dataset.c)
        sha = hashlib.sha256(bytes.fromhex(r["sha256"]) + voi.encode()).hexdigest()
        hits = [os.path.join(cache, s, sha[:2], sha + ".wbpre") for s in sets
                if os.path.exists(os.path.join(cache, s, sha[:2], sha + ".wbpre"))]
        if not hits:
            sys.exit("experiment_torch.py: %s: not in the cache %s" % (r["file"], cache))
        imgs.append(read_entry(hits[0]))
        y.append(int(r["label"]))
        f.append(fold[r["sop_instance_uid"]])
        g.append(r["patient"])
    X = torch.from_numpy(np.stack(imgs)[:, None].astype(np.float32).copy())
    return X, np.array(y), np.array(f), np.array(g)


def inner_split(idx, y, g, rng, frac=0.2):
    """frac of the training patients (at least one with a positive when there is one) held out."""
    pats = sorted(set(g[idx]))
    pos = sorted({p for p in pats if y[idx][g[idx] == p].max() > 0})
    neg = [p for p in pats if p not in pos]
    rng.shuffle(pos)
    rng.shuffle(neg)
    nv_pos = max(1, round(frac * len(pos))) if pos else 0
    val_p = set(pos[:nv_pos] + neg[:max(1, round(frac * len(neg)))])
    va = np.array([i for i in idx if g[i] in val_p])
    tr = np.array([i for i in idx if g[i] not in val_p])
    return tr, va


# ---------------------------------------------------------------- the probe
def splits(fold, y, g, rng):
    """(k, train, validation, test) index arrays per outer fold k of the run's folds.csv: the
    test rows are fold k's, the rest split by inner_split (whole patients, 20% validation)."""
    out = []
    for k in sorted(set(fold)):
        te = np.where(fold == k)[0]
        tr, va = inner_split(np.where(fold != k)[0], y, g, rng)
        out.append((k, tr, va, te))
    return out


def fit_probe(Ftr, ytr, Fva, yva):
    sc = StandardScaler().fit(Ftr)
    best = None
    for C in GRID:
        m = LogisticRegression(C=C, class_weight="balanced", max_iter=10000, tol=1e-8).fit(sc.transform(Ftr), ytr)
        loss = log_loss(yva, m.predict_proba(sc.transform(Fva))[:, 1], labels=[0, 1]) if len(yva) else 0
        if best is None or loss < best[0]:
            best = (loss, C, m)
    return sc, best[2]


def probe_head(sc, m):
    """The probe as a 2-class linear layer on raw features: logits (0, w.x + b) after standardising."""
    w = m.coef_[0] / sc.scale_
    b = m.intercept_[0] - float(np.dot(w, sc.mean_))
    W = np.stack([np.zeros_like(w), w])
    return torch.tensor(W, dtype=torch.float32), torch.tensor([0.0, b], dtype=torch.float32)


@torch.no_grad()
def features(model, X, batch):
    model.eval()
    return torch.cat([model.features(X[i:i + batch]) for i in range(0, len(X), batch)]).double().numpy()


@torch.no_grad()
def scores(model, X, batch):
    model.eval()
    out = [torch.softmax(model(X[i:i + batch]), 1)[:, 1] for i in range(0, len(X), batch)]
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def safe_auc(y, s):
    return roc_auc_score(y, s) if 0 < y.sum() < len(y) else float("nan")


def finetune(base, Ffeat, unfreeze, X, y, tr, va, a, gen):
    """The fine-tuned network (its best epoch by validation AUC)."""
    model = copy.deepcopy(base)
    stages = ["conv1", "layer1", "layer2", "layer3"]
    listed = unfreeze.split("+")
    train_from = 0 if unfreeze == "all" else stages.index(listed[0])
    if unfreeze != "all" and listed != stages[train_from:]:
        sys.exit("unfreeze %s: expected one stage or the last ones in order (layer2+layer3)" % unfreeze)
    sc, m = fit_probe(Ffeat[tr], y[tr], Ffeat[va], y[va])
    W, b = probe_head(sc, m)
    model.linear.weight.data.copy_(W)
    model.linear.bias.data.copy_(b)
    for name, p in model.named_parameters():
        st = name.split(".")[0]
        st = "conv1" if st == "bn1" else st
        p.requires_grad = st == "linear" or stages.index(st) >= train_from
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=a.lr, momentum=0.9, weight_decay=1e-4)
    n_c = np.bincount(y[tr], minlength=2)
    cw = torch.tensor(len(tr) / (2.0 * np.maximum(n_c, 1)), dtype=torch.float32)
    spe = math.ceil(len(tr) / a.batch)
    total, step = a.epochs * spe, 0
    best, best_state = -1.0, None
    for ep in range(a.epochs):
        model.eval()  # bn: frozen (running statistics, in every stage)
        order = torch.randperm(len(tr), generator=gen).numpy()
        for s in range(0, len(tr), a.batch):
            bi = tr[order[s:s + a.batch]]
            xb = X[bi]
            if a.flip:
                fl = torch.rand(len(bi), generator=gen) < 0.5
                xb = torch.where(fl[:, None, None, None], xb.flip(2), xb)
            lr = 0.5 * a.lr * (1 + math.cos(math.pi * step / total))
            for gp in opt.param_groups:
                gp["lr"] = lr
            loss = F.cross_entropy(model(xb), torch.from_numpy(y[bi]), weight=cw)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
        auc = safe_auc(y[va], scores(model, X[va], a.batch))
        crit = -1.0 if math.isnan(auc) else auc
        if crit > best or best < 0:
            best, best_state = crit, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model


def blas_line():
    core = "OpenBLAS not loaded"
    for line in open("/proc/self/maps"):
        if "libopenblas" in line:
            lib = ctypes.CDLL(line.split()[-1])
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            core = "%s (%s)" % (lib.openblas_get_corename().decode(), lib.openblas_get_config().decode())
            break
    return "# blas: torch %s, %d threads; OpenBLAS core %s; convolutions by %s" % (
        torch.__version__, torch.get_num_threads(), core,
        "oneDNN (mkldnn)" if torch.backends.mkldnn.is_available() else "torch's native CPU kernels")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("cache")
    ap.add_argument("weights")
    ap.add_argument("variants")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--flip", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--size", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    X, y, fold, g = load_run(a.run, a.cache, a.size, a.size)
    base = load_backbone(a.weights)
    rng = np.random.default_rng(a.seed)
    folds = splits(fold, y, g, rng)
    print(blas_line(), flush=True)
    Ffeat = None
    for spec in a.variants.split(","):
        name, unfreeze = spec.split(":")
        t0 = time.perf_counter()
        s = np.zeros(len(y))
        for _, tr, va, te in folds:
            gen = torch.Generator().manual_seed(a.seed * 1000 + len(te))
            if Ffeat is None:  # the pretrained features of every image, once (the probes' input)
                Ffeat = features(base, X, a.batch)
            if unfreeze == "none":
                sc, m = fit_probe(Ffeat[tr], y[tr], Ffeat[va], y[va])
                s[te] = m.predict_proba(sc.transform(Ffeat[te]))[:, 1]
            else:
                s[te] = scores(finetune(base, Ffeat, unfreeze, X, y, tr, va, a, gen), X[te], a.batch)
        print("%s\t%.3f\t%.4f" % (name, time.perf_counter() - t0, safe_auc(y, s)), flush=True)


if __name__ == "__main__":
    main()
