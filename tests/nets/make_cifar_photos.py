#!/usr/bin/python3
"""Makes the CIFAR-10 photo set that test_real.c runs the published ResNet-20 on
(akamaster/pytorch_resnet_cifar10, ../shared/weights/resnet20-12fca82f.th, 91.25% CIFAR-10
test accuracy as published). CIFAR-10 itself cannot be downloaded here, so the images are real
photographs of CIFAR-10 classes that ship inside Debian 12 packages, cropped and shrunk to
32x32 the way CIFAR-10 images look (object centred, filling most of the frame).

    /usr/bin/python3 tests/nets/make_cifar_photos.py [--root DIR]

Two steps:
 1. crops (only when the source packages are present): reads each photograph from DIR (default
    "/", i.e. the installed packages; or a folder where the .debs were unpacked with
    `apt-get download opencv-doc python3-skimage && dpkg -x <deb> DIR`), takes the square
    crop below, area-averages it down to 32x32 (exact pixel-coverage weights, in float64,
    rounded to uint8) and writes fixtures/cifar_photos/<name>.ppm (binary PPM, RGB, 3 KB).
    Without the packages the committed .ppm files are used as they are.
 2. reference: the published ResNet-20 in float64 PyTorch on the .ppm files, normalised as the
    model was trained (x/255, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225); see
    ../shared/weights/README.md and akamaster's trainer.py), writes fixtures/cifar_photos/photos.txt:
    one line per image "file true_class pytorch_top1 logit0 ... logit9" (float64 logits), plus
    comment lines with PyTorch's accuracy on the set and under two wrong preprocessings
    (BGR channel order; no mean/std normalisation), the negative controls test_real.c repeats.

Needs python3-torch and python3-pil (and, for step 1, the packages below). Nothing here runs
at test time; the test reads only the .ppm files and photos.txt.

Sources (licence from the package's debian/copyright):
  opencv-doc 4.6.0+dfsg-12 (Debian 12), Apache-2.0 AND BSD-3-Clause, OpenCV tutorial images:
    /usr/share/doc/opencv-doc/opencv4/html/{aero_det,space_shuttle,cat_det,
      Morphology_1_Tutorial_Original_Image,Remap_Tutorial_Original_Image,
      Pyramids_Tutorial_Original_Image}.jpg
    /usr/share/doc/opencv-doc/examples/hfs/data/000.jpg
    /usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg
  python3-skimage 0.19.3 (Debian 12), skimage/data/chelsea.png, "Chelsea the cat",
    CC0 by the photographer (Stefan van der Walt), per skimage.data.chelsea's docstring.
aero_det.jpg and cat_det.jpg carry a thin 1-pixel detection box drawn by the tutorial; the
crops below keep the object and a little of those lines (less than a pixel after averaging).
The Remap and Pyramids images are screenshots: the crops leave out their status bars.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import CifarResNet  # noqa: E402  (the published resnet.py, option A)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "cifar_photos")
WEIGHTS = os.path.join(HERE, "..", "..", "..", "shared", "weights", "resnet20-12fca82f.th")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])

HTML = "usr/share/doc/opencv-doc/opencv4/html/"
EX = "usr/share/doc/opencv-doc/examples/"
SK = "usr/lib/python3/dist-packages/skimage/data/"
# name, class, source (relative to --root), square crop (left, top, side) in source pixels
PHOTOS = [
    ("airplane_atr72", "airplane", HTML + "aero_det.jpg", (115, 95, 215)),
    ("airplane_buran", "airplane", HTML + "space_shuttle.jpg", (0, 0, 262)),
    ("automobile_rear", "automobile", EX + "data/licenseplate_motion.jpg", (59, 0, 482)),
    ("bird_robin", "bird", EX + "hfs/data/000.jpg", (60, 0, 254)),
    ("cat_chelsea", "cat", SK + "chelsea.png", (75, 0, 300)),
    ("cat_kitten_sitting", "cat", HTML + "cat_det.jpg", (0, 0, 416)),
    ("cat_kitten_lying", "cat", HTML + "Morphology_1_Tutorial_Original_Image.jpg", (75, 0, 225)),
    ("dog_shepherd", "dog", HTML + "Remap_Tutorial_Original_Image.jpg", (70, 0, 175)),
    ("dog_pekingese", "dog", HTML + "Pyramids_Tutorial_Original_Image.jpg", (3, 0, 295)),
]


def area_matrix(n_in, n_out):
    """(n_out, n_in) weights: output pixel i averages input [i*s, (i+1)*s), s = n_in/n_out,
    each input pixel weighted by the length of its overlap (exact area averaging)."""
    s = n_in / n_out
    a = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * s, (i + 1) * s
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
            a[i, j] = min(hi, j + 1) - max(lo, j)
    return a / s


def crop_resize(img, box):
    left, top, side = box
    sq = img[top:top + side, left:left + side, :].astype(np.float64)
    assert sq.shape[:2] == (side, side), (sq.shape, box)
    a = area_matrix(side, 32)
    out = np.einsum("ij,jkc,lk->ilc", a, sq, a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def write_ppm(path, rgb):
    with open(path, "wb") as f:
        f.write(b"P6\n32 32\n255\n")
        f.write(np.ascontiguousarray(rgb).tobytes())


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    head = b"P6\n32 32\n255\n"
    assert data.startswith(head) and len(data) == len(head) + 3072, path
    return np.frombuffer(data[len(head):], dtype=np.uint8).reshape(32, 32, 3)


def make_crops(root):
    from PIL import Image
    os.makedirs(OUT, exist_ok=True)
    missing = [src for _, _, src, _ in PHOTOS if not os.path.exists(os.path.join(root, src))]
    if missing:
        print("sources not found under %s (%s ...): keeping the committed .ppm files" %
              (root, missing[0]), file=sys.stderr)
        return
    for name, _, src, box in PHOTOS:
        img = np.asarray(Image.open(os.path.join(root, src)).convert("RGB"))
        write_ppm(os.path.join(OUT, name + ".ppm"), crop_resize(img, box))


def load_model():
    ck = torch.load(WEIGHTS, map_location="cpu")
    sd = {k[len("module."):]: v for k, v in ck["state_dict"].items()}
    model = CifarResNet([3, 3, 3])
    model.load_state_dict(sd)
    return model.double().eval()


def logits_of(model, imgs, bgr=False, normalise=True):
    x = imgs.astype(np.float64) / 255.0                       # N, 32, 32, 3
    if bgr:
        x = x[..., ::-1]
    if normalise:
        x = (x - MEAN) / STD
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/")
    args = ap.parse_args()
    torch.set_num_threads(1)
    make_crops(args.root)
    imgs = np.stack([read_ppm(os.path.join(OUT, n + ".ppm")) for n, _, _, _ in PHOTOS])
    labels = np.array([CLASSES.index(c) for _, c, _, _ in PHOTOS])
    model = load_model()
    lg = logits_of(model, imgs)
    top = lg.argmax(1)
    acc = {"rgb": int((top == labels).sum()),
           "bgr": int((logits_of(model, imgs, bgr=True).argmax(1) == labels).sum()),
           "raw": int((logits_of(model, imgs, normalise=False).argmax(1) == labels).sum())}
    n = len(PHOTOS)
    lines = [
        "# CIFAR-10 photo set for test_real.c, made by tests/nets/make_cifar_photos.py (sources,",
        "# crops and licences there). Classes: " + " ".join(f"{i}={c}" for i, c in
                                                        enumerate(CLASSES)),
        "# Per line: file true_class pytorch_top1 and the ten float64 PyTorch logits of the",
        "# published ResNet-20 on x/255 normalised with mean (0.485,0.456,0.406), std "
        "(0.229,0.224,0.225).",
        f"# PyTorch top-1 correct: {acc['rgb']} of {n}; with BGR channel order: {acc['bgr']} "
        f"of {n}; without mean/std: {acc['raw']} of {n}.",
    ]
    for i, (name, cls, _, _) in enumerate(PHOTOS):
        lines.append(f"{name}.ppm {labels[i]} {top[i]} " +
                     " ".join("%.17g" % v for v in lg[i]))
    with open(os.path.join(OUT, "photos.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for i, (name, cls, _, _) in enumerate(PHOTOS):
        p = np.exp(lg[i] - lg[i].max())
        p /= p.sum()
        print(f"{name:22s} {cls:10s} -> {CLASSES[top[i]]:10s} p={p[top[i]]:.2f}"
              f" (true class p={p[labels[i]]:.2f})", file=sys.stderr)
    print(f"PyTorch top-1: {acc['rgb']}/{n} (BGR {acc['bgr']}/{n}, unnormalised {acc['raw']}/{n})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
