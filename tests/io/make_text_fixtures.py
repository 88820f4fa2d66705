#!/usr/bin/python3
"""Makes the DICOM fixtures of issue 15 that hold text in 8-bit character sets, and one with a
Rescale Slope that overflows (run once with Debian's /usr/bin/python3, python3-pydicom 2.3.1;
the outputs are committed):

    /usr/bin/python3 tests/io/make_text_fixtures.py

Each text_*.dcm is a valid tiny 8-bit image (the one of u8.dcm) whose PatientID, Manufacturer
and Manufacturer's Model Name are written as raw bytes in the character set named by Specific
Character Set (0008,0005), or with none. text_expected.txt has one line per file and tag:

    FILE KEY HEX

KEY is patient_id, manufacturer or manufacturer_model_name; HEX is the UTF-8 that `inspect`
must print, hex-encoded: the value decoded by pydicom with the file's character set. For the
file without (0008,0005) the default repertoire is ASCII (PS3.5 6.1.2.1): a byte above 0x7F
is not a character of it and becomes U+FFFD (pydicom would fall back to Latin-1 there).

rescale_huge.dcm has Rescale Slope 1e308: its modality values overflow (bad.txt).
"""
import importlib.util
import os

import numpy as np
import pydicom
from pydicom.charset import convert_encodings, decode_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("fx", os.path.join(HERE, "make_dicom_fixtures.py"))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)

# file, Specific Character Set (None: absent), {keyword: (python text, codec)}
CASES = [
    ("text_latin1.dcm", "ISO_IR 100", {"PatientID": "MÜLLER-ÉÀ", "Manufacturer": "Siemens Médical"}),
    ("text_latin1_nocs.dcm", None, {"PatientID": "JOSÉ", "Manufacturer": "Société Générale"}),
    ("text_latin2.dcm", "ISO_IR 101", {"PatientID": "ŁÓDŹ-Ž", "Manufacturer": "Zakład Łódź"}),
    ("text_cyrillic.dcm", "ISO_IR 144", {"Manufacturer": "Сименс Медицина",
                                         "ManufacturerModelName": "Маммограф №5"}),
    ("text_utf8.dcm", "ISO_IR 192", {"PatientID": "ÖSTERGÅRD", "Manufacturer": "Müller 医療 Ωmega"}),
]
CODEC = {None: "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 101": "iso8859_2",
         "ISO_IR 144": "iso8859_5", "ISO_IR 192": "utf-8"}
KEYS = {"PatientID": "patient_id", "Manufacturer": "manufacturer",
        "ManufacturerModelName": "manufacturer_model_name"}


def image(name):
    px = fx.pattern(0, 255, 4)
    ds = fx.base_dataset(name, fx.ROWS, fx.COLS, 8, 8, 0, "MONOCHROME2", px)
    ds.WindowCenter = 128
    ds.WindowWidth = 200
    return ds


def main():
    lines = []
    for fname, cs, values in CASES:
        ds = image(fname[:-4])
        if cs:
            ds.SpecificCharacterSet = cs
        for kw, text in values.items():
            raw = text.encode(CODEC[cs])
            if len(raw) % 2:
                raw += b" "
            tag = pydicom.datadict.tag_for_keyword(kw)
            ds.add_new(tag, pydicom.datadict.dictionary_VR(tag), raw)
        fx.save(ds, fname)
        back = pydicom.dcmread(os.path.join(fx.OUT, fname))
        for kw in values:
            raw = back.get_item(pydicom.datadict.tag_for_keyword(kw)).value
            if cs:
                want = decode_bytes(raw, convert_encodings([cs]), set()).rstrip(" ")
            else:  # the default repertoire: ASCII, anything else U+FFFD
                want = "".join(chr(b) if b < 0x80 else "\ufffd" for b in raw).rstrip(" ")
            lines.append("%s %s %s" % (fname, KEYS[kw], want.encode("utf-8").hex()))
    with open(os.path.join(fx.OUT, "text_expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    ds = image("rescale_huge")
    ds.RescaleSlope = "1e308"
    ds.RescaleIntercept = "0"
    fx.save(ds, "rescale_huge.dcm")


if __name__ == "__main__":
    main()
