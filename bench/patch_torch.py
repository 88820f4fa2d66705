#!/usr/bin/python3
"""The PyTorch + scikit-learn peer of a finished lesion-patch run (bench/patch.sh).

    /usr/bin/python3 bench/patch_torch.py RUN_DIR CACHE_DIR DICOM_DIR WEIGHTS VARIANTS
        [--threads N] [--epochs E] [--batch B] [--lr LR] [--seed S] [--height H] [--width W]

VARIANTS is "name:unfreeze,..." as for bench/experiment_torch.py (CIFAR ResNet-20, unfreeze
none | all | layer1 | layer2 | layer3); its model, inner split, probe and fine-tuning are used
as they are.

The same work as the run, the plain way:

- patches: the run's lesion and background patches (patches.csv), read from the workbench's
  preprocessed cache (key: SHA-256 of the file's digest and "voi=apply patch r0=.. c0=..
  side=..", experiments/data/patch.c), so both sides train on the same pixels; the run's outer
  folds (folds.csv, repeat 0);
- windows: every sliding window the run scored (heatmaps.csv: image, row, col, side), cut by
  this script from the DICOM decoded with pydicom (VOI LUT applied, scaled to [0, 1] by the
  image's range, mirrored for right breasts), resized with torch's area interpolation: the
  pixels differ from the workbench's own resampling, the count and shapes are the same. Timed
  on its own ("windows cut"), as the workbench cuts its windows while loading;
- per variant and fold: the probe or the fine-tuned network, its held-out patches scored, then
  every window of the fold's held-out images scored; the maximum of an image's windows is its
  score (Shen et al. 2019).

Prints tab-separated lines: "cut", seconds, window count; then per variant: name, seconds
(training and scoring, summed over folds, the probe including the one feature pass), seconds
of window scoring within them, pooled patch AUC, pooled image AUC. And a "# blas" line.
Not a test: nothing asserts on time.
"""
import argparse
import csv
import hashlib
import os
import sys
import time

import numpy as np
import pydicom
import torch
import torch.nn.functional as F
from pydicom.pixel_data_handlers.util import apply_voi_lut

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import experiment_torch as et  # noqa: E402


def load_patches(run, cache, height, width):
    man = {r["sop_instance_uid"]: r for r in csv.DictReader(open(os.path.join(run, "manifest.csv")))}
    fold = {r["sop_instance_uid"]: int(r["fold"]) for r in csv.DictReader(open(os.path.join(run, "folds.csv")))
            if r["repeat"] == "0"}
    sets = [d for d in os.listdir(cache) if os.path.isdir(os.path.join(cache, d))
            and "out_rows=%d\n" % height in open(os.path.join(cache, d, "params.txt")).read()
            and "out_cols=%d\n" % width in open(os.path.join(cache, d, "params.txt")).read()]
    imgs, y, f, g, image_file = [], [], [], [], {}
    for p in csv.DictReader(open(os.path.join(run, "patches.csv"))):
        m = man[p["patch"]]
        text = "voi=apply patch r0=%s c0=%s side=%s" % (p["row"], p["col"], p["side"])
        key = hashlib.sha256(bytes.fromhex(m["sha256"]) + text.encode()).hexdigest()
        hits = [os.path.join(cache, s, key[:2], key + ".wbpre") for s in sets
                if os.path.exists(os.path.join(cache, s, key[:2], key + ".wbpre"))]
        if not hits:
            sys.exit("patch_torch.py: patch %s of %s: not in the cache %s" % (p["patch"], p["file"], cache))
        imgs.append(et.read_entry(hits[0]))
        y.append(int(p["label"]))
        f.append(fold[p["patch"]])
        g.append(p["patient"])
        image_file[p["patch"].rsplit("/", 1)[0]] = p["file"]
    X = torch.from_numpy(np.stack(imgs)[:, None].astype(np.float32).copy())
    return X, np.array(y), np.array(f), np.array(g), image_file


def cut_windows(run, dicom_dir, image_file, height, width):
    """Every window of heatmaps.csv (the first variant's rows: the same windows for all)."""
    rows = list(csv.DictReader(open(os.path.join(run, "heatmaps.csv"))))
    first = rows[0]["variant"] if rows else None
    info = {}
    for r in csv.DictReader(open(os.path.join(run, "predictions_image.csv"))):
        if r["repeat"] == "0" and r["variant"] == first:
            info[r["sop_instance_uid"]] = (int(r["fold"]), int(r["label"]), r["laterality"])
    by_image = {}
    for r in rows:
        if r["variant"] == first:
            by_image.setdefault(r["sop_instance_uid"], []).append((int(r["row"]), int(r["col"]), int(r["side"])))
    wins, win_image, images = [], [], []
    for uid, ws in by_image.items():
        ds = pydicom.dcmread(os.path.join(dicom_dir, image_file[uid]))
        a = apply_voi_lut(ds.pixel_array, ds).astype(np.float32)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo if hi > lo else 1.0)
        t = torch.from_numpy(a)
        k = len(images)
        images.append((uid,) + info[uid])
        for r0, c0, s in ws:
            sq = t[r0:r0 + s, c0:c0 + s]
            if info[uid][2] == "R":
                sq = sq.flip(1)
            wins.append(F.interpolate(sq[None, None], size=(height, width), mode="area")[0])
            win_image.append(k)
    W = torch.stack(wins) if wins else torch.zeros(0, 1, height, width)
    return W, np.array(win_image), images


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("cache")
    ap.add_argument("dicom_dir")
    ap.add_argument("weights")
    ap.add_argument("variants")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    a = ap.parse_args()
    a.flip = 0
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    X, y, fold, g, image_file = load_patches(a.run, a.cache, a.height, a.width)
    t0 = time.perf_counter()
    W, win_image, images = cut_windows(a.run, a.dicom_dir, image_file, a.height, a.width)
    print("cut\t%.3f\t%d" % (time.perf_counter() - t0, len(W)), flush=True)
    img_fold = np.array([im[1] for im in images])
    img_y = np.array([im[2] for im in images])
    base = et.load_backbone(a.weights)
    rng = np.random.default_rng(a.seed)
    splits = et.splits(fold, y, g, rng)
    print(et.blas_line(), flush=True)
    Ffeat = None
    for spec in a.variants.split(","):
        name, unfreeze = spec.split(":")
        t0 = time.perf_counter()
        tw = 0.0
        s = np.zeros(len(y))
        si = np.full(len(images), np.nan)
        for k, tr, va, te in splits:
            gen = torch.Generator().manual_seed(a.seed * 1000 + len(te))
            if Ffeat is None:  # the pretrained features of every patch, once (the probes' input)
                Ffeat = et.features(base, X, a.batch)
            wsel = np.where(img_fold[win_image] == k)[0]
            if unfreeze == "none":
                sc, m = et.fit_probe(Ffeat[tr], y[tr], Ffeat[va], y[va])
                s[te] = m.predict_proba(sc.transform(Ffeat[te]))[:, 1]
                t1 = time.perf_counter()
                ws = m.predict_proba(sc.transform(et.features(base, W[wsel], a.batch)))[:, 1] if len(wsel) else []
            else:
                model = et.finetune(base, Ffeat, unfreeze, X, y, tr, va, a, gen)
                s[te] = et.scores(model, X[te], a.batch)
                t1 = time.perf_counter()
                ws = et.scores(model, W[wsel], a.batch)
            for j, sc_ in zip(wsel, ws):
                i = win_image[j]
                si[i] = sc_ if np.isnan(si[i]) else max(si[i], sc_)
            tw += time.perf_counter() - t1
        ok = ~np.isnan(si)
        print("%s\t%.3f\t%.3f\t%.4f\t%.4f" % (name, time.perf_counter() - t0, tw, et.safe_auc(y, s),
                                            et.safe_auc(img_y[ok], si[ok])), flush=True)


if __name__ == "__main__":
    main()
