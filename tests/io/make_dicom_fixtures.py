#!/usr/bin/python3
"""Make small DICOM test files and the pixel values a trusted decoder gives.

Run from the repository root (Debian 12 packages: python3-pydicom 2.3.1,
python3-numpy, dcmtk):

    /usr/bin/python3 tests/io/make_dicom_fixtures.py

Everything is written into tests/io/data/ and is deterministic (fixed UIDs,
fixed random seeds), so re-running gives byte-identical files.

Good files (listed in index.txt), for each NAME:
  NAME.dcm         tiny image, 19 columns x 23 rows (cols != rows so a
                   transposition shows)
  NAME.ignore.f32  little-endian float32, rows*cols values, row-major: the
                   modality values with VOI ignored, i.e. pydicom's
                   apply_modality_lut(); for MONOCHROME1 inverted as
                   (mod_lo + mod_hi) - value, where mod_lo/mod_hi are the
                   modality transform of the ends of the stored-value range
                   (min/max of the LUT data for a Modality LUT Sequence).
  NAME.apply.f32   VOI applied and normalised to [0,1]:
                   window -> pydicom apply_windowing() (first window),
                             then (y - y_min)/(y_max - y_min) with pydicom's
                             own y_min/y_max;
                   VOI LUT Sequence -> pydicom apply_voi_lut() / (2^bits - 1)
                             (bits = 3rd value of the LUT Descriptor);
                   no VOI tags -> (mod - mod_lo)/(mod_hi - mod_lo);
                   then 1 - value for MONOCHROME1.
  Pixels whose stored value equals Pixel Padding Value are set to mod_lo in
  .ignore and to 0 in .apply.
  NAME.meta.txt    (only mammo_full, mammo_laterality) key=value lines, key =
                   DICOM keyword, value = the element's string value as
                   stored (multiple values joined with a backslash).
                   PatientName (DOE^JANE) is in the file but deliberately not
                   in meta.txt: the reader must never output it.

index.txt line:  NAME rows cols bits_stored photometric transfer_syntax_uid [note...]
bad.txt line:    FILE.dcm expected-substring-of-the-error

Stored values: pydicom 2.3.1 does NOT mask bits above High Bit (checked:
b10_garbage), so the script masks them (and sign-extends signed data) before
computing the expected values; DCMTK masks them too.

JPEG 2000 copies (made with GDCM's gdcmconv, Debian package libgdcm-tools; pydicom
decodes them through Pillow's OpenJPEG plugin, python3-pil):
  SRC_j2k          gdcmconv --j2k (1.2.840.10008.1.2.4.90, lossless) of mg12_rescale,
                   u8, signed16 and mono1_14; pydicom's decode must equal the source's
                   stored values, so the expected values are the source's.
  mg12_rescale_j2k_lossy   gdcmconv --j2k --lossy -q 80 (.91). GDCM writes a 16-bit
                   codestream for the 12-bit data and the lossy decode overshoots 4095 at
                   a few pixels: expected values come from pydicom's decode clamped to the
                   Bits Stored range (the reader's documented rule for lossy JPEG 2000);
                   the note gives the largest difference from the source (the C test
                   bounds it).
  j2k_bs14_prec16  signed 14-bit values in a 16-bit JPEG 2000 codestream whose header
                   then says Bits Stored 14 (like pydicom's 693_J2KI.dcm).
  j2k_pixrep1_unsigned  an unsigned 12-bit codestream of mg12_rescale's values made with
                   OpenJPEG's opj_compress (libopenjp2-tools) under Pixel Representation 1
                   (like pydicom's J2K_pixelrep_mismatch.dcm): read as 12-bit two's
                   complement, as pydicom's J2K corrections do (the script checks that).
  mg12_rescale_j2k_fragments  mg12_rescale_j2k's codestream in 3 fragments.
  mg12_rescale_j2k_as_htj2k  mg12_rescale_j2k relabelled as High-Throughput JPEG 2000
                   Lossless (1.2.840.10008.1.2.4.201) by editing the meta header bytes:
                   the codestream is Part 1, so this checks the transfer syntax handling
                   only (Debian 12 has no HTJ2K encoder).
  pydicom_MR_small_jp2klossless, and pydicom_JPEG2000 (in j2k_ref.txt only: 1024x256 is too
                   large for .f32 files): copies of python3-pydicom's test files
                   (pydicom/data/test_files, MIT/Expat; the images come from the NEMA WG04
                   sample set, see data/README-pydicom.txt). j2k_ref.txt line:
                   FILE SHA256 APPLY_SUM R,C,V...: SHA-256 of the little-endian float32
                   modality values (VOI ignored; exact, the values are integers), the sum
                   of the VOI-applied values, and a few VOI-applied pixels.

Compressed / re-encoded copies (JPEG lossless SV1, JPEG baseline for u8 only,
JPEG-LS lossless, RLE, deflated, big endian, and implicit VR little endian)
of mg12_rescale and u8 are made with the DCMTK
command-line tools (dcmcjpeg, dcmcjpls, dcmcrle, dcmconv); their expected
values are those of the source (checked by decoding the copy with
dcmdjpeg/dcmdjpls/dcmdrle, or pydicom directly, and comparing), except the
lossy JPEG baseline copy, whose expected values come from DCMTK's own decode
(dcmdjpeg) read by pydicom.
"""

import copy
import hashlib
import os
import shutil
import re
import subprocess
import tempfile
import uuid
import warnings

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.pixel_data_handlers.util import (
    apply_modality_lut, apply_voi_lut, apply_windowing)
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian, JPEGLosslessSV1, JPEGBaseline8Bit,
    JPEGLSLossless, RLELossless, JPEG2000Lossless, JPEG2000)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
ROWS, COLS = 23, 19
MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
PYDICOM_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
UID_NS = uuid.UUID("6b1f4c2e-7d0a-4f51-9a3e-2c8d5e0b7a11")


def uid(name):
    """Fixed UID derived from a name (2.25 root, UUID-derived)."""
    return "2.25." + str(uuid.uuid5(UID_NS, name).int)


def pattern(lo, hi, seed, rows=ROWS, cols=COLS):
    """Gradient (different along x and y) plus noise, covering lo..hi."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    base = (0.65 * x / (cols - 1) + 0.35 * y / (rows - 1))
    noise = rng.uniform(-0.08, 0.08, size=(rows, cols))
    v = lo + (hi - lo) * np.clip(base + noise, 0.0, 1.0)
    v = np.round(v).astype(np.int64)
    v[0, 0] = lo
    v[-1, -1] = hi
    v[0, -1] = hi
    v[-1, 0] = lo + (hi - lo) // 3
    return v


def base_dataset(name, rows, cols, bits_alloc, bits_stored, pixel_rep,
                 photometric, pixels, high_bit=None, ts=ExplicitVRLittleEndian):
    """Minimal MG For Presentation dataset; `pixels` are the raw words."""
    ds = Dataset()
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = uid(name + ".sop")
    ds.StudyInstanceUID = uid(name + ".study")
    ds.SeriesInstanceUID = uid(name + ".series")
    ds.Modality = "MG"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.PatientID = "FIXTURE-" + name.upper()
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1 if high_bit is None else high_bit
    ds.PixelRepresentation = pixel_rep
    if pixels is not None:
        if bits_alloc == 8:
            raw = np.asarray(pixels).astype("u1").tobytes()
            vr = "OB"
        elif bits_alloc == 16:
            raw = np.asarray(pixels).astype("<i2" if pixel_rep else "<u2").tobytes()
            vr = "OW"
        elif bits_alloc == 32:
            raw = np.asarray(pixels).astype("<u4").tobytes()
            vr = "OW"
        else:
            raise ValueError(bits_alloc)
        ds.add_new(0x7FE00010, vr, raw)
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = ds.SOPClassUID
    fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    fm.TransferSyntaxUID = ts
    ds.file_meta = fm
    ds.preamble = b"\0" * 128
    ds.is_little_endian = True
    ds.is_implicit_VR = (ts == ImplicitVRLittleEndian)
    return ds


def save(ds, fname):
    path = os.path.join(OUT, fname)
    dcmwrite(path, ds, write_like_original=False)
    return path


# ---- for the scripts that make mismatched variants of these fixtures
# (make_jpeg_mismatch_fixtures.py, make_rle_length_fixtures.py)

def first_frame(fname):
    """The dataset of fixture fname and the bytes of its first encapsulated frame."""
    from pydicom.encaps import generate_pixel_data_frame
    ds = pydicom.dcmread(os.path.join(OUT, fname))
    return ds, next(generate_pixel_data_frame(ds.PixelData))


def frame_variant(src, fname, codestream=None, **changes):
    """Fixture src saved as fname with its frame replaced by codestream (if given) and the
    header attributes changes set."""
    ds, _ = first_frame(src)
    if codestream is not None:
        ds.PixelData = encapsulate([codestream])
        ds["PixelData"].is_undefined_length = True
    for k, v in changes.items():
        setattr(ds, k, v)
    save(ds, fname)


def merge_bad(bad):
    """Rewrites bad.txt's lines for the files of bad ((file, expected substring) pairs), keeping
    the other lines."""
    path = os.path.join(OUT, "bad.txt")
    mine = {f for f, _ in bad}
    keep = [l for l in open(path).read().splitlines() if l.split(" ", 1)[0] not in mine]
    with open(path, "w") as f:
        f.write("\n".join(keep + ["%s %s" % b for b in bad]) + "\n")


def set_window(ds, centers, widths, func=None):
    ds.WindowCenter = [str(c) for c in centers] if len(centers) > 1 else str(centers[0])
    ds.WindowWidth = [str(w) for w in widths] if len(widths) > 1 else str(widths[0])
    if func:
        ds.VOILUTFunction = func


def set_rescale(ds, slope, intercept):
    ds.RescaleSlope = str(slope)
    ds.RescaleIntercept = str(intercept)
    ds.RescaleType = "US"


def lut_item(descriptor, data):
    item = Dataset()
    item.add_new(0x00283002, "US", list(descriptor))        # LUT Descriptor
    item.add_new(0x00283006, "US", [int(v) for v in data])  # LUT Data
    return item


# ---------------------------------------------------------------- expected

def stored_values(ds, clamp=False):
    """pydicom's pixel_array, plus masking of unused high bits.

    clamp: first clamp to the Bits Stored range (lossy JPEG 2000 overshoot).
    Returns (values, note) where note says if pydicom did not mask.
    """
    with warnings.catch_warnings():  # J2K precision != Bits Stored
        warnings.simplefilter("ignore")
        arr = ds.pixel_array.astype(np.int64)
    if clamp:
        arr = np.clip(arr, *stored_range(ds))
    bs = int(ds.BitsStored)
    mask = (1 << bs) - 1
    masked = arr & mask
    if ds.PixelRepresentation == 1:
        masked = np.where(masked >= (1 << (bs - 1)), masked - (1 << bs), masked)
    note = None
    if not np.array_equal(masked, arr):
        note = ("pydicom-%s does not mask bits above High Bit; expected values "
                "computed from masked stored values" % pydicom.__version__)
    return masked, note


def stored_range(ds):
    bs = int(ds.BitsStored)
    if ds.PixelRepresentation == 1:
        return -(1 << (bs - 1)), (1 << (bs - 1)) - 1
    return 0, (1 << bs) - 1


def modality_range(ds):
    if ds.get("ModalityLUTSequence"):
        item = ds.ModalityLUTSequence[0]
        data = item.LUTData
        data = [data] if isinstance(data, int) else list(data)
        return float(min(data)), float(max(data))
    smin, smax = stored_range(ds)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        s, i = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        a, b = s * smin + i, s * smax + i
        return min(a, b), max(a, b)
    return float(smin), float(smax)


def pydicom_window_yrange(ds):
    """Same y_min / y_max as pydicom 2.3.1 apply_windowing()."""
    if ds.get("ModalityLUTSequence"):
        y_min = 0
        y_max = 2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1
    elif ds.PixelRepresentation == 0:
        y_min, y_max = 0, 2 ** int(ds.BitsStored) - 1
    else:
        y_min = -2 ** (int(ds.BitsStored) - 1)
        y_max = 2 ** (int(ds.BitsStored) - 1) - 1
    if ds.get("RescaleSlope") is not None and ds.get("RescaleIntercept") is not None:
        y_min = y_min * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        y_max = y_max * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return float(y_min), float(y_max)


def expected(ds, clamp=False):
    """(ignore, apply, notes) for a dataset read back by pydicom."""
    with warnings.catch_warnings():  # deepcopy of a deflated file's dataset
        warnings.simplefilter("ignore")
        ds = copy.deepcopy(ds)  # pydicom's LUT functions modify ds
    stored, note = stored_values(ds, clamp)
    notes = [note] if note else []
    # integer input keeps apply_voi happy; values are identical
    src = stored.astype(np.int32 if ds.PixelRepresentation else np.uint16)
    mod = apply_modality_lut(src, ds)
    mod_lo, mod_hi = modality_range(ds)
    mono1 = ds.PhotometricInterpretation == "MONOCHROME1"

    ignore = mod.astype(np.float64)
    if mono1:
        ignore = (mod_lo + mod_hi) - ignore

    if ds.get("VOILUTSequence"):
        bits = ds.VOILUTSequence[0].LUTDescriptor[2]
        apply = apply_voi_lut(mod, ds).astype(np.float64) / (2 ** bits - 1)
    elif "WindowCenter" in ds or "WindowWidth" in ds:
        y = apply_windowing(mod.astype(np.float64), ds)
        y_min, y_max = pydicom_window_yrange(ds)
        apply = (y - y_min) / (y_max - y_min)
    else:
        apply = (mod.astype(np.float64) - mod_lo) / (mod_hi - mod_lo)
    if mono1:
        apply = 1.0 - apply

    if "PixelPaddingValue" in ds:
        pad = stored == int(ds.PixelPaddingValue)
        ignore[pad] = mod_lo
        apply[pad] = 0.0
        notes.append("padding: %d pixels with stored value %d"
                     % (int(pad.sum()), int(ds.PixelPaddingValue)))
    assert ignore.shape == (ds.Rows, ds.Columns)
    assert np.all(apply >= -1e-9) and np.all(apply <= 1 + 1e-9), apply
    return ignore, apply, notes


def write_f32(path, arr):
    with open(path, "wb") as f:
        f.write(np.asarray(arr, dtype="<f4").tobytes())


# ---------------------------------------------------------------- good files

def good_cases():
    """Yield (name, dataset, extra note)."""
    # 1. MONOCHROME2 12-bit in 16 with rescale and one window
    px = pattern(0, 4095, 1)
    ds = base_dataset("mg12_rescale", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    set_rescale(ds, "0.5", "-100")
    set_window(ds, ["900"], ["1200"])
    yield "mg12_rescale", ds, "rescale 0.5/-100, window 900/1200"

    # 2. MONOCHROME1 14-bit with window
    px = pattern(0, 16383, 2)
    ds = base_dataset("mono1_14", ROWS, COLS, 16, 14, 0, "MONOCHROME1", px)
    set_window(ds, ["8000"], ["10000"])
    yield "mono1_14", ds, "MONOCHROME1, window 8000/10000"

    # 3. signed 16-bit with negative values and rescale
    px = pattern(-32768, 32767, 3)
    ds = base_dataset("signed16", ROWS, COLS, 16, 16, 1, "MONOCHROME2", px)
    set_rescale(ds, "1", "-1024")
    set_window(ds, ["-500"], ["30000"])
    yield "signed16", ds, "PixelRepresentation 1, rescale 1/-1024, window -500/30000"

    # 4. 8-bit in 8 allocated
    px = pattern(0, 255, 4)
    ds = base_dataset("u8", ROWS, COLS, 8, 8, 0, "MONOCHROME2", px)
    set_window(ds, ["128"], ["200"])
    yield "u8", ds, "window 128/200"

    # 5. bits stored 10, high bit 9, garbage in bits 10..15
    rng = np.random.default_rng(5)
    v = pattern(0, 1023, 5)
    garbage = rng.integers(1, 64, size=v.shape) << 10
    ds = base_dataset("b10_garbage", ROWS, COLS, 16, 10, 0, "MONOCHROME2",
                      v | garbage, high_bit=9)
    set_window(ds, ["512"], ["700"])
    yield "b10_garbage", ds, "random garbage in bits 10-15 must be masked; window 512/700"

    # 6. multiple window values: expected uses the first
    px = pattern(0, 4095, 6)
    ds = base_dataset("multiwin", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    set_window(ds, ["1500", "2500"], ["1000", "3000"])
    ds.WindowCenterWidthExplanation = ["FIRST", "SECOND"]
    yield "multiwin", ds, "two windows 1500/1000 and 2500/3000; expected uses the first"

    # 7. VOI LUT Function SIGMOID
    px = pattern(0, 4095, 7)
    ds = base_dataset("sigmoid", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    set_window(ds, ["2048"], ["2000"], func="SIGMOID")
    yield "sigmoid", ds, "VOILUTFunction SIGMOID, window 2048/2000"

    # 8. VOI LUT Sequence without window
    px = pattern(0, 4095, 8)
    ds = base_dataset("voilut", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    n, first = 2048, 1024
    t = np.arange(n) / (n - 1)
    data = np.round(4095 * t ** 0.6).astype(int)
    ds.VOILUTSequence = Sequence([lut_item([n, first, 12], data)])
    ds.VOILUTSequence[0].LUTExplanation = "GAMMA 0.6"
    yield "voilut", ds, "VOI LUT Sequence descriptor 2048/1024/12 (values <1024 -> first entry, >3071 -> last), no window"

    # 9. Modality LUT Sequence (with a window)
    px = pattern(0, 4095, 9)
    ds = base_dataset("modlut", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    n, first = 3584, 256
    t = np.arange(n) / (n - 1)
    data = np.round(3000 + 55000 * np.sqrt(t)).astype(int)
    item = lut_item([n, first, 16], data)
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([item])
    set_window(ds, ["30000"], ["40000"])
    yield "modlut", ds, "Modality LUT Sequence descriptor 3584/256/16 (sqrt curve 3000..58000), window 30000/40000"

    # 10. Pixel Padding Value (mid-range, so it is not what the window gives)
    px = pattern(0, 4095, 10)
    px[px == 2000] = 2001
    px[:3, :5] = 2000
    px[-2:, 7:12] = 2000
    ds = base_dataset("padding", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    ds.add_new(0x00280120, "US", 2000)  # Pixel Padding Value
    set_rescale(ds, "1", "-1000")
    set_window(ds, ["1000"], ["1000"])
    yield "padding", ds, "PixelPaddingValue 2000, rescale 1/-1000, window 1000/1000"

    # 11. no VOI tags at all
    px = pattern(0, 4095, 11)
    ds = base_dataset("novoi", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    set_rescale(ds, "2", "10")
    yield "novoi", ds, "no VOI tags; rescale 2/10"

    # 12. full set of mammography metadata
    px = pattern(0, 4095, 12)
    ds = base_dataset("mammo_full", ROWS, COLS, 16, 12, 0, "MONOCHROME2", px)
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MG-000123"
    ds.PatientAge = "052Y"
    ds.Manufacturer = "ACME Imaging"
    ds.ManufacturerModelName = "Mammo 3000"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageLaterality = "L"
    ds.ViewPosition = "MLO"
    ds.BreastImplantPresent = "NO"
    ds.PixelSpacing = ["0.07", "0.07"]
    set_window(ds, ["2047"], ["4096"])
    yield "mammo_full", ds, ("mammography metadata; PatientName DOE^JANE is present "
                             "and must never appear in reader output")

    # 13. Laterality (0020,0060) only, ImagerPixelSpacing only
    px = pattern(0, 4095, 13)
    ds = base_dataset("mammo_laterality", ROWS, COLS, 16, 12, 0, "MONOCHROME1", px)
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MG-000124"
    ds.PatientAge = "061Y"
    ds.Manufacturer = "ACME Imaging"
    ds.ManufacturerModelName = "Mammo 2000"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Laterality = "R"
    ds.ViewPosition = "CC"
    ds.BreastImplantPresent = "NO"
    ds.ImagerPixelSpacing = ["0.085", "0.085"]
    set_window(ds, ["2000"], ["3000"])
    yield "mammo_laterality", ds, ("Laterality (0020,0060) but no ImageLaterality; "
                                   "ImagerPixelSpacing but no PixelSpacing; MONOCHROME1; "
                                   "PatientName DOE^JANE must never appear in reader output")


META_KEYS = ["PatientID", "PatientAge", "StudyInstanceUID", "SeriesInstanceUID",
             "SOPInstanceUID", "SOPClassUID", "Modality", "ImageLaterality",
             "Laterality", "ViewPosition", "Manufacturer", "ManufacturerModelName",
             "PixelSpacing", "ImagerPixelSpacing", "PresentationIntentType",
             "BreastImplantPresent"]


def meta_text(ds):
    lines = []
    for k in META_KEYS:
        if k in ds:
            v = ds[k].value
            if isinstance(v, (list, pydicom.multival.MultiValue)):
                v = "\\".join(str(x) for x in v)
            lines.append("%s=%s" % (k, v))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- DCMTK copies

TS_NAMES = {
    JPEGLosslessSV1: "jpeg_lossless_sv1", JPEGBaseline8Bit: "jpeg_baseline",
    JPEGLSLossless: "jpegls_lossless", RLELossless: "rle",
    DeflatedExplicitVRLittleEndian: "deflate", ExplicitVRBigEndian: "bigendian",
    ImplicitVRLittleEndian: "implicit",
}

# (suffix, encoder command, transfer syntax, decoder or None=pydicom reads it)
COPIES = [
    ("jpll", ["dcmcjpeg", "+e1", "+un"], JPEGLosslessSV1, "dcmdjpeg"),
    ("jpeg_baseline", ["dcmcjpeg", "+eb", "+un"], JPEGBaseline8Bit, "dcmdjpeg"),
    ("jpls", ["dcmcjpls", "+el", "+un"], JPEGLSLossless, "dcmdjpls"),
    ("rle", ["dcmcrle"], RLELossless, "dcmdrle"),
    ("deflate", ["dcmconv", "+td"], DeflatedExplicitVRLittleEndian, None),
    ("bigendian", ["dcmconv", "+tb"], ExplicitVRBigEndian, None),
    ("implicit", ["dcmconv", "+ti"], ImplicitVRLittleEndian, None),
]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r.stdout + r.stderr


def dcmtk_ts(path):
    out = run(["dcmdump", "-M", "-Un", "+P", "0002,0010", path])
    m = re.search(r"UI \[([0-9.]+)\]", out)
    if not m:
        raise RuntimeError("no transfer syntax in dcmdump output of %s: %s" % (path, out))
    return m.group(1)


# ---------------------------------------------------------------- JPEG 2000

def relabel_ts(src, dst, old_uid, new_uid):
    """Copy a Part 10 file with another Transfer Syntax UID (pydicom 2.3 refuses UIDs it
    does not know): edits the (0002,0010) element and the group length in place."""
    b = bytearray(open(src, "rb").read())
    def elem(u):
        v = u.encode() + (b"\0" if len(u) % 2 else b"")
        return b"\x02\x00\x10\x00UI" + len(v).to_bytes(2, "little") + v
    old, new = elem(old_uid), elem(new_uid)
    i = b.index(old)
    b[i:i + len(old)] = new
    g = b.index(b"\x02\x00\x00\x00UL\x04\x00")
    gl = int.from_bytes(b[g + 8:g + 12], "little") + len(new) - len(old)
    b[g + 8:g + 12] = gl.to_bytes(4, "little")
    open(dst, "wb").write(bytes(b))


def j2k_frame(path):
    """The codestream of a single-frame encapsulated file."""
    from pydicom.encaps import defragment_data
    return defragment_data(pydicom.dcmread(path).PixelData)


def j2k_cases(sources, tmp):
    """Yield (name, path, notes, clamp, src_name or None) for the JPEG 2000 good files."""
    for src_name in ("mg12_rescale", "u8", "signed16", "mono1_14"):
        path = os.path.join(OUT, src_name + "_j2k.dcm")
        run(["gdcmconv", "--j2k", sources[src_name][0], path])
        yield (src_name + "_j2k", path,
               ["jpeg2000 lossless copy of %s made with 'gdcmconv --j2k'" % src_name], False,
               src_name)
    path = os.path.join(OUT, "mg12_rescale_j2k_lossy.dcm")
    run(["gdcmconv", "--j2k", "--lossy", "-q", "80", sources["mg12_rescale"][0], path])
    d = pydicom.dcmread(path)  # GDCM gives a lossy copy a new, random SOP Instance UID
    d.SOPInstanceUID = d.file_meta.MediaStorageSOPInstanceUID = uid("mg12_rescale_j2k_lossy.sop")
    d.save_as(path)
    yield ("mg12_rescale_j2k_lossy", path,
           ["LOSSY jpeg2000 copy of mg12_rescale made with 'gdcmconv --j2k --lossy -q 80'; "
            "expected values from pydicom's decode clamped to the Bits Stored range"], True, None)

    # signed 14-bit values in a 16-bit codestream, header then says Bits Stored 14
    px = pattern(-8192, 8191, 20)
    ds = base_dataset("j2k_bs14_prec16", ROWS, COLS, 16, 16, 1, "MONOCHROME2", px)
    set_rescale(ds, "1", "-1024")
    set_window(ds, ["40"], ["6000"])
    src = os.path.join(tmp, "bs14_src.dcm")
    dcmwrite(src, ds, write_like_original=False)
    enc = os.path.join(tmp, "bs14_enc.dcm")
    run(["gdcmconv", "--j2k", src, enc])
    d = pydicom.dcmread(enc)
    d.BitsStored = 14
    d.HighBit = 13
    path = os.path.join(OUT, "j2k_bs14_prec16.dcm")
    d.save_as(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(pydicom.dcmread(path).pixel_array, px)
    yield ("j2k_bs14_prec16", path,
           ["signed 14-bit values in a 16-bit JPEG 2000 codestream (gdcmconv --j2k), header "
            "edited to Bits Stored 14 / High Bit 13"], False, None)

    # unsigned 12-bit codestream (OpenJPEG's opj_compress; gdcmconv writes 16-bit ones)
    # under Pixel Representation 1
    src_stored, _ = stored_values(sources["mg12_rescale"][1])
    pgm, j2c = os.path.join(tmp, "mg12.pgm"), os.path.join(tmp, "mg12.j2k")
    with open(pgm, "wb") as f:
        f.write(b"P5\n%d %d\n4095\n" % (COLS, ROWS) + src_stored.astype(">u2").tobytes())
    run(["opj_compress", "-i", pgm, "-o", j2c, "-n", "4"])
    d = pydicom.dcmread(os.path.join(OUT, "mg12_rescale_j2k.dcm"))
    d.PixelRepresentation = 1
    d.PixelData = encapsulate([open(j2c, "rb").read()])
    d["PixelData"].is_undefined_length = True
    path = os.path.join(OUT, "j2k_pixrep1_unsigned.dcm")
    d.save_as(path)
    twos = np.where(src_stored >= 2048, src_stored - 4096, src_stored)
    got, _ = stored_values(pydicom.dcmread(path))
    assert np.array_equal(got, twos), "pydicom reads the pixrep mismatch differently"
    yield ("j2k_pixrep1_unsigned", path,
           ["unsigned 12-bit codestream (opj_compress) of mg12_rescale with Pixel Representation 1: "
            "12-bit two's complement, as pydicom's J2K corrections read it"], False, None)

    # the same codestream split into 3 fragments
    d = pydicom.dcmread(os.path.join(OUT, "mg12_rescale_j2k.dcm"))
    d.PixelData = encapsulate([j2k_frame(os.path.join(OUT, "mg12_rescale_j2k.dcm"))],
                              fragments_per_frame=3)
    d["PixelData"].is_undefined_length = True
    path = os.path.join(OUT, "mg12_rescale_j2k_fragments.dcm")
    d.save_as(path)
    yield ("mg12_rescale_j2k_fragments", path,
           ["mg12_rescale_j2k's codestream in 3 fragments (pydicom encapsulate)"], False,
           "mg12_rescale")

    path = os.path.join(OUT, "mg12_rescale_j2k_as_htj2k.dcm")
    relabel_ts(os.path.join(OUT, "mg12_rescale_j2k.dcm"), path, JPEG2000Lossless, HTJ2K_LOSSLESS)
    yield ("mg12_rescale_j2k_as_htj2k", path,
           ["mg12_rescale_j2k relabelled %s (HTJ2K lossless); Part 1 codestream: checks the "
            "transfer syntax handling only" % HTJ2K_LOSSLESS], False, "mg12_rescale")

    path = os.path.join(OUT, "pydicom_MR_small_jp2klossless.dcm")
    shutil.copyfile(os.path.join(PYDICOM_FILES, "MR_small_jp2klossless.dcm"), path)
    yield ("pydicom_MR_small_jp2klossless", path,
           ["python3-pydicom's MR_small_jp2klossless.dcm (MIT); expected values from pydicom's decode"],
           False, None)


def j2k_reference(name, ds):
    """One j2k_ref.txt line for a file too large for .f32 files."""
    ignore, apply, _ = expected(ds)
    digest = hashlib.sha256(ignore.astype("<f4").tobytes()).hexdigest()
    assert np.array_equal(ignore.astype("<f4").astype(np.float64), ignore), "not exact in float32"
    rows, cols = apply.shape
    rng = np.random.default_rng(99)
    pts = [(0, 0), (rows - 1, cols - 1), (rows // 2, cols // 2)]
    pts += [(int(r), int(c)) for r, c in zip(rng.integers(0, rows, 13), rng.integers(0, cols, 13))]
    samples = " ".join("%d,%d,%.9g" % (r, c, apply[r, c]) for r, c in pts)
    return "%s.dcm %s %.9g %s" % (name, digest, float(apply.astype("<f4").astype(np.float64).sum()),
                                  samples)


# ---------------------------------------------------------------- bad files

def bad_files(good_path):
    """Write the bad files; return [(fname, substring)]."""
    bad = []
    src = open(good_path, "rb").read()

    def w(fname, data):
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)

    w("not_dicom.dcm", b"This is a plain text file, not DICOM.\n" * 4)
    bad.append(("not_dicom.dcm", "not a DICOM file"))

    # cut inside the Rows element header (explicit VR LE: tag, 'US', len, value)
    pos = src.index(b"\x28\x00\x10\x00US\x02\x00")
    w("truncated_header.dcm", src[:pos + 5])
    bad.append(("truncated_header.dcm", "truncated"))

    pos = src.index(b"\xe0\x7f\x10\x00OW\x00\x00")
    length = int.from_bytes(src[pos + 8:pos + 12], "little")
    w("truncated_pixels.dcm", src[:pos + 12 + length // 2 + 1])
    bad.append(("truncated_pixels.dcm", "truncated"))

    def variant(name, fname, substring, mutate, **kw):
        args = dict(rows=ROWS, cols=COLS, bits_alloc=16, bits_stored=12, pixel_rep=0,
                    photometric="MONOCHROME2")
        args.update(kw)
        px = args.pop("pixels", None)
        if px is None:
            px = pattern(0, (1 << min(args["bits_stored"], 16)) - 1, 100,
                         rows=args["rows"], cols=args["cols"])
        ds = base_dataset(name, args["rows"], args["cols"], args["bits_alloc"],
                          args["bits_stored"], args["pixel_rep"], args["photometric"], px)
        set_window(ds, ["2048"], ["4096"])
        if mutate:
            mutate(ds)
        save(ds, fname)
        bad.append((fname, substring))

    def no_px(ds):
        del ds.PixelData
    variant("no_pixel_data", "no_pixel_data.dcm", "no Pixel Data", no_px)

    def rows0(ds):
        ds.Rows = 0
    variant("rows0", "rows0.dcm", "(0028,0010) Rows", rows0)

    def cols0(ds):
        ds.Columns = 0
    variant("cols0", "cols0.dcm", "(0028,0011) Columns", cols0)

    def huge(ds):
        ds.Rows = 65535
        ds.Columns = 65535
        ds.PixelData = ds.PixelData[:64]
    variant("huge", "huge.dcm", "too large", huge)

    variant("bits32", "bits32.dcm", "(0028,0100) Bits Allocated", None,
            bits_alloc=32, bits_stored=32,
            pixels=pattern(0, 4000000000, 101))

    rgb = np.stack([pattern(0, 255, 102), pattern(0, 255, 103), pattern(0, 255, 104)], axis=-1)

    def to_rgb(ds):
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
        ds.PhotometricInterpretation = "RGB"
        del ds.WindowCenter
        del ds.WindowWidth
    variant("rgb", "rgb.dcm", "(0028,0002) Samples per Pixel", to_rgb,
            bits_alloc=8, bits_stored=8, pixels=rgb)

    frames = np.concatenate([pattern(0, 4095, 105 + i) for i in range(3)], axis=0)

    def nframes(ds):
        ds.NumberOfFrames = 3
        ds.Rows = ROWS
    variant("frames3", "frames3.dcm", "(0028,0008) Number of Frames", nframes,
            pixels=frames)

    # JPEG 2000: codestreams of the good files (gdcmconv) in files that do not fit them
    cs12 = j2k_frame(os.path.join(OUT, "mg12_rescale_j2k.dcm"))
    cs16s = j2k_frame(os.path.join(OUT, "signed16_j2k.dcm"))

    def j2k(codestream, ts=JPEG2000Lossless, **changes):
        def mutate(ds):
            ds.file_meta.TransferSyntaxUID = ts
            ds.add_new(0x7FE00010, "OB", encapsulate([codestream]))
            ds["PixelData"].is_undefined_length = True
            for k, v in changes.items():
                setattr(ds, k, v)
        return mutate

    variant("j2k_truncated", "j2k_truncated.dcm", "truncated or corrupt JPEG 2000 codestream",
            j2k(cs12[:len(cs12) * 6 // 10]))
    variant("j2k_not_codestream", "j2k_not_codestream.dcm", "not a JPEG 2000 codestream",
            j2k(bytes(range(64))))
    variant("j2k_rows_mismatch", "j2k_rows_mismatch.dcm", "(0028,0010) Rows",
            j2k(cs12, Rows=ROWS - 1))
    variant("j2k_bits_mismatch", "j2k_bits_mismatch.dcm", "(0028,0100) Bits Allocated",
            j2k(cs12, BitsAllocated=8, BitsStored=8, HighBit=7))
    variant("j2k_signed_pixrep0", "j2k_signed_pixrep0.dcm", "(0028,0103) Pixel Representation",
            j2k(cs16s, BitsStored=16, HighBit=15))
    # unsigned 16-bit codestream (gdcmconv's) under Pixel Representation 1: ambiguous, refused
    variant("j2k_pixrep1_prec16", "j2k_pixrep1_prec16.dcm", "(0028,0101) Bits Stored",
            j2k(cs12, PixelRepresentation=1))
    # lossless syntax, values that Bits Stored 14 cannot hold: no clamping
    variant("j2k_overflow", "j2k_overflow.dcm", "(0028,0101) Bits Stored",
            j2k(cs16s, BitsStored=14, HighBit=13, PixelRepresentation=1))
    # the file cut inside the codestream fragment
    src2 = open(os.path.join(OUT, "mg12_rescale_j2k.dcm"), "rb").read()
    w("j2k_truncated_file.dcm", src2[:len(src2) - 300])
    bad.append(("j2k_truncated_file.dcm", "truncated"))
    relabel_ts(os.path.join(OUT, "mg12_rescale_j2k.dcm"), os.path.join(OUT, "j2k_part2.dcm"),
               JPEG2000Lossless, "1.2.840.10008.1.2.4.92")
    bad.append(("j2k_part2.dcm", "JPEG 2000 Part 2 Multi-component (Lossless only)) is not supported"))

    def palette(ds):
        ds.PhotometricInterpretation = "PALETTE COLOR"
        del ds.WindowCenter
        del ds.WindowWidth
        ramp = list(range(0, 65536, 256))
        for desc, data, lut in ((0x00281101, 0x00281201, ramp),
                                (0x00281102, 0x00281202, ramp[::-1]),
                                (0x00281103, 0x00281203, [32768] * 256)):
            ds.add_new(desc, "US", [256, 0, 16])
            ds.add_new(data, "OW", np.asarray(lut, "<u2").tobytes())
    variant("palette", "palette.dcm", "(0028,0004) Photometric Interpretation",
            palette, bits_alloc=8, bits_stored=8, pixels=pattern(0, 255, 107))

    def short(ds):
        ds.PixelData = ds.PixelData[:(ROWS * COLS * 2) // 2 & ~1]  # even length
    variant("short_pixels", "short_pixels.dcm", "pixel data too short", short)
    return bad


# ---------------------------------------------------------------- main

def main():
    os.makedirs(OUT, exist_ok=True)
    index = []
    sources = {}
    for name, ds, note in good_cases():
        fname = name + ".dcm"
        path = save(ds, fname)
        rd = pydicom.dcmread(path)
        ignore, apply, notes = expected(rd)
        write_f32(os.path.join(OUT, name + ".ignore.f32"), ignore)
        write_f32(os.path.join(OUT, name + ".apply.f32"), apply)
        if name.startswith("mammo_"):
            with open(os.path.join(OUT, name + ".meta.txt"), "w") as f:
                f.write(meta_text(rd))
        index.append((name, rd, [note] + notes))
        sources[name] = (path, rd, ignore, apply)

    with tempfile.TemporaryDirectory() as tmp:
        for src_name in ("mg12_rescale", "u8"):
            src_path, src_ds, src_ignore, src_apply = sources[src_name]
            src_stored, _ = stored_values(src_ds)
            for suffix, enc, ts, dec in COPIES:
                if suffix == "jpeg_baseline" and src_ds.BitsStored != 8:
                    continue
                name = "%s_%s" % (src_name, suffix)
                path = os.path.join(OUT, name + ".dcm")
                run(enc + [src_path, path])
                got_ts = dcmtk_ts(path)
                if got_ts != ts:
                    raise RuntimeError("%s: transfer syntax %s, wanted %s" % (name, got_ts, ts))
                rd = pydicom.dcmread(path)  # pydicom reads the header
                assert rd.file_meta.TransferSyntaxUID == ts
                if dec:
                    dpath = os.path.join(tmp, name + ".dec.dcm")
                    run([dec, path, dpath])
                    dd = pydicom.dcmread(dpath)
                else:
                    dd = rd
                if ts == RLELossless:  # pydicom decodes RLE itself too
                    assert np.array_equal(rd.pixel_array, dd.pixel_array)
                notes = ["%s copy of %s made with '%s'" % (TS_NAMES[ts], src_name, " ".join(enc))]
                if suffix == "jpeg_baseline":
                    ignore, apply, more = expected(dd)
                    notes.append("LOSSY: expected values from DCMTK dcmdjpeg decode read by pydicom, not from the source")
                    stored, _ = stored_values(dd)
                    notes.append("max abs difference from source stored values %d"
                                 % int(np.abs(stored - src_stored).max()))
                else:
                    stored, _ = stored_values(dd)
                    if not np.array_equal(stored, src_stored):
                        raise RuntimeError("%s decodes differently from its source" % name)
                    ignore, apply, more = expected(dd)
                    assert np.array_equal(ignore.astype("<f4"), src_ignore.astype("<f4"))
                    assert np.array_equal(apply.astype("<f4"), src_apply.astype("<f4"))
                    notes.append("expected values identical to %s" % src_name)
                write_f32(os.path.join(OUT, name + ".ignore.f32"), ignore)
                write_f32(os.path.join(OUT, name + ".apply.f32"), apply)
                index.append((name, rd, notes))

        for name, path, notes, clamp, src_name in j2k_cases(sources, tmp):
            rd = pydicom.dcmread(path)
            # pydicom 2.3 cannot decode under the HTJ2K UID: the identical .90 file instead
            dd = pydicom.dcmread(os.path.join(OUT, "mg12_rescale_j2k.dcm")) \
                if rd.file_meta.TransferSyntaxUID == HTJ2K_LOSSLESS else rd
            ignore, apply, more = expected(dd, clamp)
            if src_name:  # lossless: pydicom's decode equals the source
                src_stored, _ = stored_values(sources[src_name][1])
                if not np.array_equal(stored_values(dd)[0], src_stored):
                    raise RuntimeError("%s decodes differently from its source" % name)
                assert np.array_equal(ignore.astype("<f4"), sources[src_name][2].astype("<f4"))
                assert np.array_equal(apply.astype("<f4"), sources[src_name][3].astype("<f4"))
                notes.append("expected values identical to %s" % src_name)
            if clamp:
                src_stored, _ = stored_values(sources["mg12_rescale"][1])
                clamped, _ = stored_values(rd, clamp=True)
                notes.append("%d pixels clamped; max abs difference from source stored values %d"
                             % (int((np.asarray(rd.pixel_array) > 4095).sum()),
                                int(np.abs(clamped - src_stored).max())))
            write_f32(os.path.join(OUT, name + ".ignore.f32"), ignore)
            write_f32(os.path.join(OUT, name + ".apply.f32"), apply)
            index.append((name, rd, notes + more))

    # large pydicom test file: checksum and samples only
    shutil.copyfile(os.path.join(PYDICOM_FILES, "JPEG2000.dcm"),
                    os.path.join(OUT, "pydicom_JPEG2000.dcm"))
    with open(os.path.join(OUT, "j2k_ref.txt"), "w") as f:
        f.write(j2k_reference("pydicom_JPEG2000",
                              pydicom.dcmread(os.path.join(OUT, "pydicom_JPEG2000.dcm"))) + "\n")

    bad = bad_files(sources["mg12_rescale"][0])

    with open(os.path.join(OUT, "index.txt"), "w") as f:
        for name, rd, notes in index:
            f.write("%s %d %d %d %s %s %s\n" % (
                name, rd.Rows, rd.Columns, rd.BitsStored, rd.PhotometricInterpretation,
                rd.file_meta.TransferSyntaxUID, "; ".join(n for n in notes if n)))
    with open(os.path.join(OUT, "bad.txt"), "w") as f:
        for fname, sub in bad:
            f.write("%s %s\n" % (fname, sub))

    total = 0
    for fn in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, fn))
        total += size
        assert size < 20 * 1024, (fn, size)
    print("wrote %d files, %d bytes, into %s" % (len(os.listdir(OUT)), total, OUT))


if __name__ == "__main__":
    main()
