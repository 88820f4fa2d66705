#!/usr/bin/python3
"""Makes the DICOM fixtures whose JPEG (ITU-T T.81) frame does not fit the DICOM header
(hostile-files pass; run once with Debian's /usr/bin/python3, python3-pydicom 2.3.1, after
make_dicom_fixtures.py; the outputs are committed):

    /usr/bin/python3 tests/io/make_jpeg_mismatch_fixtures.py

DCMTK decodes a JPEG frame into a buffer of the header's Rows x Columns and leaves what the
stream does not fill at zero: a header with more rows or columns than the frame was read as an
image that was mostly zeros, without an error. Each file here takes the frame of a good file
(mg12_rescale_jpll.dcm, u8_jpeg_baseline.dcm) or a broken one and must be refused with the
substring its bad.txt line gives (the lines are rewritten, the others kept).
"""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("fx", os.path.join(HERE, "make_dicom_fixtures.py"))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)
frame, variant = fx.first_frame, fx.frame_variant


def main():
    bad = []
    _, ll = frame("mg12_rescale_jpll.dcm")
    variant("mg12_rescale_jpll.dcm", "jpll_rows_mismatch.dcm", Rows=fx.ROWS + 100)
    bad.append(("jpll_rows_mismatch.dcm", "(0028,0010) Rows: the header says 19 x 123 (columns x rows) "
                "but the JPEG frame is 19 x 23"))
    variant("mg12_rescale_jpll.dcm", "jpll_cols_mismatch.dcm", Columns=2 * fx.COLS)
    bad.append(("jpll_cols_mismatch.dcm", "(0028,0011) Columns: the header says 38 x 23"))
    variant("u8_jpeg_baseline.dcm", "jpeg_baseline_rows_mismatch.dcm", Rows=fx.ROWS + 9)
    bad.append(("jpeg_baseline_rows_mismatch.dcm", "(0028,0010) Rows: the header says 19 x 32"))
    variant("mg12_rescale_jpll.dcm", "jpll_not_jpeg.dcm", codestream=bytes(range(64)))
    bad.append(("jpll_not_jpeg.dcm", "(7FE0,0010) Pixel Data: the JPEG frame does not start with an SOI marker"))
    # SOI, then an APP0 segment whose length runs past the frame
    variant("mg12_rescale_jpll.dcm", "jpll_segment_overrun.dcm", codestream=b"\xff\xd8\xff\xe0\x7f\xf0" + ll[2:40])
    bad.append(("jpll_segment_overrun.dcm", "the marker segment FF E0 at byte 2 of the frame runs past its end"))
    # the frame header says 3 components
    sof = ll.index(b"\xff\xc3")
    three = ll[:sof + 9] + b"\x03" + ll[sof + 10:]
    variant("mg12_rescale_jpll.dcm", "jpll_three_components.dcm", codestream=three)
    bad.append(("jpll_three_components.dcm", "(0028,0002) Samples per Pixel: is 1 but the JPEG frame has 3 components"))

    fx.merge_bad(bad)

if __name__ == "__main__":
    main()
