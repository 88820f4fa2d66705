#!/usr/bin/python3
"""bench_preprocess.py - the preprocessing pipeline of experiments/preprocess.c written with
pydicom + NumPy + scikit-image (Debian packages; run with /usr/bin/python3).

    bench_preprocess.py [--reps N] FILE...

Per image: pydicom decode, modality LUT + VOI window (apply_modality_lut, apply_voi_lut),
scaled to 0..1 (MONOCHROME1 inverted: bright = dense), triangle threshold (256 bins), largest
8-connected component (skimage.measure.label), binary_fill_holes, background set to 0, crop
to the bounding box + 8 px, flip from the laterality tag (R mirrored), resize with
anti_aliasing=True keeping the aspect ratio into 512x512 (column 0, centred vertically).
Best of N passes; prints one line like bench_preprocess.c. Not a test."""
import sys
import time

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
from scipy import ndimage
from skimage import filters, measure, transform

OUT = 512
MARGIN = 8


def decode(path):
    ds = pydicom.dcmread(path)
    a = ds.pixel_array
    a = apply_modality_lut(a, ds)
    a = apply_voi_lut(a, ds, index=0).astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    if "WindowWidth" in ds:
        wc = float(np.atleast_1d(ds.WindowCenter)[0])
        ww = float(np.atleast_1d(ds.WindowWidth)[0])
        lo, hi = wc - 0.5 - (ww - 1) / 2, wc - 0.5 + (ww - 1) / 2
        a = np.clip((a - lo) / (hi - lo), 0, 1)
    else:
        a = (a - lo) / max(hi - lo, 1e-12)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        a = 1.0 - a
    lat = str(ds.get("ImageLaterality", "") or ds.get("Laterality", ""))
    return a.astype(np.float32), lat


def preprocess(img, lat):
    t = filters.threshold_triangle(img, nbins=256)
    lab = measure.label(img > t, connectivity=2)
    if lab.max() == 0:
        raise ValueError("no breast")
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    mask = ndimage.binary_fill_holes(lab == counts.argmax())
    img = np.where(mask, img, 0).astype(np.float32)
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    r0, r1 = max(rows[0] - MARGIN, 0), min(rows[-1] + 1 + MARGIN, img.shape[0])
    c0, c1 = max(cols[0] - MARGIN, 0), min(cols[-1] + 1 + MARGIN, img.shape[1])
    crop = img[r0:r1, c0:c1]
    if lat == "R":
        crop = crop[:, ::-1]
    s = max(crop.shape[0] / OUT, crop.shape[1] / OUT)
    h, w = max(1, round(crop.shape[0] / s)), max(1, round(crop.shape[1] / s))
    small = transform.resize(crop, (h, w), order=1, mode="edge", anti_aliasing=True,
                             preserve_range=True)
    out = np.zeros((OUT, OUT), np.float32)
    top = (OUT - h) // 2
    out[top:top + h, :w] = small
    return out


def main(argv):
    reps, files = 3, argv[1:]
    if len(files) >= 2 and files[0] == "--reps":
        reps, files = int(files[1]), files[2:]
    if not files:
        sys.exit("usage: bench_preprocess.py [--reps N] FILE...")
    best = (1e30, 0.0, 0.0)
    best_cpu = 1e30
    for _ in range(reps):
        c0 = time.process_time()
        t_dec = t_pre = 0.0
        total = 0.0
        for f in files:
            t0 = time.perf_counter()
            img, lat = decode(f)
            t1 = time.perf_counter()
            out = preprocess(img, lat)
            t2 = time.perf_counter()
            t_dec += t1 - t0
            t_pre += t2 - t1
            total += float(out.mean())
        best_cpu = min(best_cpu, time.process_time() - c0)
        if t_dec + t_pre < best[0]:
            best = (t_dec + t_pre, t_dec, t_pre)
    n = len(files)
    print("python images=%d reps=%d threads=1 best_s=%.4f decode_s=%.4f preprocess_s=%.4f "
          "images_per_s=%.3f cpu_s_per_image=%.3f mean_out=%.6f"
          % (n, reps, best[0], best[1], best[2], n / best[0], best_cpu / n, total / n))


if __name__ == "__main__":
    main(sys.argv)
