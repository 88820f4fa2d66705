#!/usr/bin/python3
"""Makes the non-DICOM image fixtures of tests/io/test_image.c (run once; outputs committed).

    /usr/bin/python3 tests/io/make_image_fixtures.py

Writes into tests/io/data/image/:
  - gray8.png, gray16.png, gray8.jpg, rgb8.png, pal4.png, gray16.pgm: small images made with PIL
    (numpy arrays from a fixed seed), and for each NAME.ref: "rows cols maxval" then every pixel
    value as PIL decodes it (for the JPEG: PIL's own libjpeg decode, the reference a decoder
    must match; for rgb8.png: the ITU-R 709 luma libpng computes, rounded, +-1 tolerated; for
    gray16.pgm, maxval 4095: the stored values, which PIL rescales to 0..65535 -- checked here);
  - broken fixtures the reader must refuse: PNG/JPEG/PGM cut short, a PNG whose IDAT CRC is
    wrong, a PNG whose IHDR claims 100000 x 100000 pixels (valid CRC), a PGM with a pixel above
    maxval, a text file named .png;
  - mias.ref: for each real mini-MIAS film in ../shared/data/mini-mias-sample (read-only,
    not copied): name rows cols sum-of-pixels and the values at 8 fixed positions, as
    scikit-image (skimage.io.imread) and PIL decode them (the script checks they agree).
"""
import hashlib
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import skimage.io

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "image")
MIAS = os.path.join(HERE, "..", "..", "..", "shared", "data", "mini-mias-sample")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261206)


def write_ref(name, arr, maxval):
    arr = np.asarray(arr)
    with open(os.path.join(OUT, name + ".ref"), "w") as f:
        f.write(f"{arr.shape[0]} {arr.shape[1]} {maxval}\n")
        for row in arr:
            f.write(" ".join(str(int(v)) for v in row) + "\n")


def image(h, w, maxval):
    """A smooth gradient plus noise: values over the whole range, nothing constant."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x / (w - 1) * 0.6 + y / (h - 1) * 0.3) * maxval
    noise = rng.integers(0, maxval // 10 + 1, size=(h, w))
    return np.clip(base + noise, 0, maxval).astype(np.int64)


# 8-bit gray PNG
a8 = image(23, 37, 255).astype(np.uint8)
Image.fromarray(a8, mode="L").save(os.path.join(OUT, "gray8.png"))
write_ref("gray8.png", np.array(Image.open(os.path.join(OUT, "gray8.png"))), 255)

# 16-bit gray PNG (PIL mode I;16), with a pHYs of 10000 px/m (0.1 mm pixels)
a16 = image(19, 29, 65535).astype(np.uint16)
Image.fromarray(a16, mode="I;16").save(os.path.join(OUT, "gray16.png"), dpi=(254, 254))
back = np.array(Image.open(os.path.join(OUT, "gray16.png")))
assert back.dtype == np.uint16 or back.max() > 255, back.dtype
assert (back.astype(np.int64) == a16).all()
write_ref("gray16.png", back, 65535)

# 8-bit gray JPEG (baseline, quality 90): the reference is PIL's decode, not the input
Image.fromarray(a8, mode="L").save(os.path.join(OUT, "gray8.jpg"), quality=90)
write_ref("gray8.jpg", np.array(Image.open(os.path.join(OUT, "gray8.jpg"))), 255)

# RGB PNG: libpng's rgb_to_gray default weights (ITU-R 709: 6968, 23434, 2366 / 32768)
rgb = np.stack([image(11, 13, 255), image(11, 13, 255), image(11, 13, 255)], axis=2).astype(np.uint8)
Image.fromarray(rgb, mode="RGB").save(os.path.join(OUT, "rgb8.png"))
r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
write_ref("rgb8.png", (6968 * r + 23434 * g + 2366 * b + 16384) // 32768, 255)

# 4-bit palette PNG with a gray palette: expanded to RGB, then to gray (equal channels)
pal_idx = rng.integers(0, 16, size=(9, 14)).astype(np.uint8)
pim = Image.fromarray(pal_idx, mode="P")
pim.putpalette([v for k in range(16) for v in (k * 17, k * 17, k * 17)])
pim.save(os.path.join(OUT, "pal4.png"), bits=4)
write_ref("pal4.png", np.array(Image.open(os.path.join(OUT, "pal4.png")).convert("L")), 255)

# 16-bit binary PGM (maxval 4095, big-endian samples) with a comment in the header
a12 = image(7, 5, 4095).astype(np.uint16)
with open(os.path.join(OUT, "gray16.pgm"), "wb") as f:
    f.write(b"P5\n# made by make_image_fixtures.py\n5 7\n4095\n" + a12.astype(">u2").tobytes())
# PIL 9.4 (and skimage through it) rescales maxval 4095 to 0..65535: the same fraction of maxval
pgm_back = np.array(Image.open(os.path.join(OUT, "gray16.pgm"))).astype(np.int64)
assert (np.abs(pgm_back - np.round(a12.astype(np.int64) * 65535 / 4095)) <= 1).all(), "PIL reads the PGM differently"
write_ref("gray16.pgm", a12, 4095)


# ---- broken inputs ----
def raw(name):
    with open(os.path.join(OUT, name), "rb") as f:
        return f.read()


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


png = raw("gray8.png")
put("cut.png", png[: len(png) // 2])
jpg = raw("gray8.jpg")
put("cut.jpg", jpg[: len(jpg) * 2 // 3])
put("cut.pgm", raw("gray16.pgm")[:-9])
# IDAT CRC wrong: flip the last byte of the first IDAT chunk's CRC
i = png.index(b"IDAT")
ln = struct.unpack(">I", png[i - 4 : i])[0]
crc_at = i + 4 + ln
put("badcrc.png", png[:crc_at + 3] + bytes([png[crc_at + 3] ^ 0xFF]) + png[crc_at + 4 :])
# IHDR claiming 100000 x 100000 (CRC recomputed so that only the size is wrong)
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
put("huge.png", png[:8] + chunk + png[8 + 25 :])
put("overmax.pgm", b"P5\n2 2\n100\n" + bytes([1, 2, 101, 3]))
put("text.png", b"file,label\nx.dcm,normal\n")

# ---- the real mini-MIAS films: decoded by skimage and by PIL ----
POS = [(0, 0), (511, 511), (100, 900), (900, 100), (300, 400), (700, 650), (1023, 1023), (512, 200)]
if os.path.isdir(MIAS):
    lines = []
    for name in sorted(os.listdir(MIAS)):
        if not name.endswith(".pgm"):
            continue
        p = os.path.join(MIAS, name)
        sk = skimage.io.imread(p)
        pil = np.array(Image.open(p))
        assert sk.shape == pil.shape and (sk == pil).all(), name
        vals = " ".join(f"{r},{c}={int(sk[r, c])}" for r, c in POS)
        sha = hashlib.sha256(sk.astype(np.uint8).tobytes()).hexdigest()
        lines.append(f"{name} {sk.shape[0]} {sk.shape[1]} {int(sk.astype(np.int64).sum())} {sha} {vals}")
    with open(os.path.join(OUT, "mias.ref"), "w") as f:
        f.write("# name rows cols sum sha256(uint8 pixels, row-major) row,col=value... "
                "(skimage.io.imread == PIL)\n")
        f.write("\n".join(lines) + "\n")
else:
    print(f"{MIAS} is absent: mias.ref not regenerated", file=sys.stderr)
print("wrote", OUT)
