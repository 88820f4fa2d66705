#!/usr/bin/python3
"""Fixtures for tests/preprocess: resampling references (scikit-image) and feature values
(NumPy / scikit-image) computed exactly as our C code and ITK compute them.

Run with Debian's interpreter from the repository root:
    /usr/bin/python3 tests/preprocess/make_fixtures.py
It writes tests/preprocess/data/*.npy and features.txt (small; committed).

GLCM: ITK's ScalarImageToTextureFeaturesFilter vs scikit-image's graycomatrix/graycoprops
  - offsets: ITK uses the 4 "previous" 8-neighbours (dr,dc) = (-1,-1), (-1,0), (-1,1), (0,-1)
    and counts each pair both ways (a symmetric matrix). skimage's angles 3pi/4, pi/2, pi/4, 0
    at distance 1 with symmetric=True give the same four matrices.
  - mask: ITK counts a pair only when both pixels are inside the mask. skimage has no mask:
    we give outside pixels the extra level L and drop row and column L.
  - levels: our wrapper quantises v in [0,1] to floor(v * L) clamped to 0..L-1 before ITK sees
    it (ITK's own binning of [min, max + 1] would waste bins on float images).
  - normalisation: each matrix is divided by its total; features are computed per offset and
    averaged over the 4 offsets (ITK's FeatureMeans).
  - definitions (ITK's HistogramToTextureFeaturesFilter, i, j grey levels 0..L-1, p = P/sum):
      energy      = sum p^2                           (= skimage's ASM, not its 'energy')
      entropy     = -sum p log2 p over p > 0.0001     (ITK skips smaller entries)
      correlation = sum (i-mu)(j-mu) p / var^2         (ITK divides by the variance squared;
                                                      skimage's correlation = that * var)
      idm         = sum p / (1 + (i-j)^2)             (= skimage's homogeneity)
      inertia     = sum (i-j)^2 p                     (= skimage's contrast)
      cluster shade      = sum ((i-mu) + (j-mu))^3 p
      cluster prominence = sum ((i-mu) + (j-mu))^4 p
      haralick correlation = (sum i j p - m^2) / s2, where m and s2 are the mean and the
                             population variance of the L marginal sums (not of the grey levels:
                             ITK's own definition, kept as ITK computes it)
    with mu = sum i p(i,.) and var = sum (i-mu)^2 p(i,.).
"""
import os
import sys

import numpy as np
from skimage.feature import graycomatrix, graycoprops
from skimage.transform import resize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")


def save(name, a):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(a, dtype=np.float32))


def pattern(rows, cols):
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    v = (0.5 + 0.3 * np.sin(2 * np.pi * x / 13.0) * np.cos(2 * np.pi * y / 17.0)
         + 0.15 * (x / cols) - 0.1 * (y / rows))
    v += 0.05 * ((x + 2 * y) % 7 == 0)  # a sharp component for the anti-aliasing to matter
    return v.astype(np.float32)


def texture(rows, cols, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    v = 0.45 + 0.25 * np.sin(x / 5.0 + 0.3 * y) + 0.1 * np.cos(y / 3.0)
    v += 0.12 * rng.standard_normal((rows, cols))
    v = np.clip(v, 0, 1).astype(np.float32)
    cy, cx = rows / 2.0, cols * 0.35
    mask = (((y - cy) / (rows * 0.42)) ** 2 + ((x - cx) / (cols * 0.5)) ** 2) <= 1.0
    return v, mask.astype(np.uint8)


def glcm_itk(v, mask, levels):
    q = np.clip(np.floor(v.astype(np.float64) * levels), 0, levels - 1).astype(np.int64)
    q[mask == 0] = levels
    P = graycomatrix(q.astype(np.uint16), [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                     levels=levels + 1, symmetric=True, normed=False)
    P = P[:levels, :levels, 0, :].astype(np.float64)  # [L, L, 4]
    i, j = np.mgrid[0:levels, 0:levels].astype(np.float64)
    feats = []
    for k in range(P.shape[2]):
        p = P[:, :, k] / P[:, :, k].sum()
        ms = p.sum(axis=1)
        mu = (i[:, 0] * ms).sum()
        var = ((i[:, 0] - mu) ** 2 * ms).sum()
        var2 = var * var if var * var > 4 * np.finfo(float).eps else 1.0
        m, s2 = ms.mean(), ms.var()
        pz = p[p > 0.0001]
        f = [
            (p * p).sum(),
            -(pz * np.log2(pz)).sum(),
            ((i - mu) * (j - mu) * p).sum() / var2,
            (p / (1 + (i - j) ** 2)).sum(),
            ((i - j) ** 2 * p).sum(),
            (((i - mu) + (j - mu)) ** 3 * p).sum(),
            (((i - mu) + (j - mu)) ** 4 * p).sum(),
            ((i * j * p).sum() - m * m) / s2,
        ]
        # The matrix is skimage's: check the features both libraries define alike.
        sk = {n: graycoprops(P[:, :, k][:, :, None, None], n)[0, 0]
              for n in ("ASM", "homogeneity", "contrast", "correlation")}
        assert abs(sk["ASM"] - f[0]) < 1e-12
        assert abs(sk["homogeneity"] - f[3]) < 1e-12
        assert abs(sk["contrast"] - f[4]) < 1e-9
        assert abs(sk["correlation"] - f[2] * var) < 1e-9
        feats.append(f)
    return np.mean(np.array(feats), axis=0)


def first_order(v, mask, bins):
    x = v[mask != 0].astype(np.float64)
    mean = x.mean()
    d = x - mean
    m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
    b = np.minimum(np.floor(np.clip(x, 0, 1) * bins), bins - 1).astype(int)
    pr = np.bincount(b, minlength=bins) / x.size
    pr = pr[pr > 0]
    return [mean, np.sqrt(m2), m3 / m2 ** 1.5, m4 / m2 ** 2, -(pr * np.log2(pr)).sum(),
            *np.percentile(x, [10, 25, 50, 75, 90])]


GLCM_NAMES = ["glcm_energy", "glcm_entropy", "glcm_correlation", "glcm_idm", "glcm_inertia",
              "glcm_cluster_shade", "glcm_cluster_prominence", "glcm_haralick_correlation"]
FO_NAMES = ["fo_mean", "fo_std", "fo_skewness", "fo_kurtosis", "fo_entropy", "fo_p10",
            "fo_p25", "fo_p50", "fo_p75", "fo_p90"]


def main():
    os.makedirs(OUT, exist_ok=True)
    pat = pattern(101, 131)
    save("pattern", pat)
    p64 = pat.astype(np.float64)
    save("resize_lin_40x50", resize(p64, (40, 50), order=1, mode="edge", anti_aliasing=False))
    save("resize_aa_40x50", resize(p64, (40, 50), order=1, mode="edge", anti_aliasing=True))
    save("resize_aa_25x33", resize(p64, (25, 33), order=1, mode="edge", anti_aliasing=True))
    save("resize_lin_150x200", resize(p64, (150, 200), order=1, mode="edge",
                                      anti_aliasing=False))
    lines = []
    tex, mask = texture(60, 70, 4)
    save("tex", tex)
    save("tex_mask", mask)
    for levels in (16, 64):
        for n, val in zip(GLCM_NAMES, glcm_itk(tex, mask, levels)):
            lines.append("tex L%d %s %.17g" % (levels, n, val))
    for n, val in zip(FO_NAMES, first_order(tex, mask, 64)):
        lines.append("tex B64 %s %.17g" % (n, val))
    with open(os.path.join(OUT, "features.txt"), "w") as f:
        f.write("# made by make_fixtures.py: image levels/bins feature value\n")
        f.write("\n".join(lines) + "\n")
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
