#!/usr/bin/python3
"""Makes the DICOM fixtures whose RLE frame or uncompressed Pixel Data does not fit the header
(hostile-files follow-up; run once with Debian's /usr/bin/python3, python3-pydicom 2.3.1, after
make_dicom_fixtures.py; the outputs are committed):

    /usr/bin/python3 tests/io/make_rle_length_fixtures.py

RLE (PS3.5 Annex G): a frame is a 64-byte header (the number of segments, then 15 segment
offsets) and one PackBits segment per byte of a sample (1 for 8-bit, 2 for 16-bit data), each
decoding to exactly Rows x Columns bytes. DCMTK reported a frame that disagrees with that only
as "RLE decoder: ..." or not at all; io_dicom_shim.cpp now walks the header and the segments
first. Each RLE file here takes the frame of a good one (mg12_rescale_rle.dcm, 16-bit;
u8_rle.dcm, 8-bit) and must be refused with the substring its bad.txt line gives.

Uncompressed: Pixel Data longer than Rows x Columns x bytes is accepted up to less than one
frame more (a trailing pad byte to an even length is normal; other trailing bytes give a
warning naming the byte counts); one whole frame more or longer is refused, as a multi-frame
image whose header says one frame would be. raw_trailing.dcm (accepted, with a warning) and
raw_one_pixel.dcm (one 8-bit pixel and its pad byte) are read by test_dicom.c;
raw_two_frames.dcm is in bad.txt.
"""
import importlib.util
import os
import struct

import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("fx", os.path.join(HERE, "make_dicom_fixtures.py"))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)
frame, variant, save = fx.first_frame, fx.frame_variant, fx.save


def rle_header(frame_bytes):
    n = struct.unpack_from("<I", frame_bytes, 0)[0]
    offs = list(struct.unpack_from("<15I", frame_bytes, 4))
    return n, offs


def with_header(frame_bytes, n, offs):
    return struct.pack("<I15I", n, *(offs + [0] * (15 - len(offs)))) + frame_bytes[64:]


def main():
    bad = []
    _, f16 = frame("mg12_rescale_rle.dcm")
    _, f8 = frame("u8_rle.dcm")
    n16, o16 = rle_header(f16)
    assert n16 == 2 and o16[0] == 64, (n16, o16[:3])
    # the header says more rows than the segments hold
    variant("mg12_rescale_rle.dcm", "rle_rows_mismatch.dcm", Rows=fx.ROWS + 4)
    bad.append(("rle_rows_mismatch.dcm", "(7FE0,0010) Pixel Data: RLE segment 1 decodes to 437 bytes, "
                "the header's 19 x 27 pixels need 513"))
    # ... or fewer: a whole row or more left over is refused too (one pad byte is not)
    variant("mg12_rescale_rle.dcm", "rle_rows_fewer.dcm", Rows=fx.ROWS - 3)
    bad.append(("rle_rows_fewer.dcm", "(7FE0,0010) Pixel Data: RLE segment 1 decodes to 437 bytes, "
                "the header's 19 x 20 pixels need 380"))
    # one segment for 16-bit samples
    variant("mg12_rescale_rle.dcm", "rle_one_segment.dcm", codestream=with_header(f16, 1, [64]))
    bad.append(("rle_one_segment.dcm", "(0028,0100) Bits Allocated: is 16, so the RLE frame needs 2 segments "
                "(one per byte of a sample), but its header gives 1"))
    # a segment offset past the end of the frame
    variant("mg12_rescale_rle.dcm", "rle_offset_past_end.dcm",
            codestream=with_header(f16, 2, [64, len(f16) + 100]))
    bad.append(("rle_offset_past_end.dcm", "(7FE0,0010) Pixel Data: RLE segment 2 starts at byte %d, "
                "past the end of the %d-byte frame" % (len(f16) + 100, len(f16))))
    # the frame cut inside its second segment: a literal run goes past the end
    cut = f16[:o16[1] + 6]
    cut += b"\x00" * (len(cut) & 1)
    variant("mg12_rescale_rle.dcm", "rle_segment_cut.dcm", codestream=cut)
    bad.append(("rle_segment_cut.dcm", "(7FE0,0010) Pixel Data: RLE segment 2 is cut short"))
    # the frame shorter than its 64-byte header
    variant("u8_rle.dcm", "rle_no_header.dcm", codestream=f8[:40])
    bad.append(("rle_no_header.dcm", "(7FE0,0010) Pixel Data: the RLE frame has 40 bytes, less than its "
                "64-byte header"))

    # uncompressed: two frames' worth of pixels under a header that says one frame
    ds = pydicom.dcmread(os.path.join(fx.OUT, "mg12_rescale.dcm"))
    ds.PixelData = ds.PixelData + ds.PixelData
    save(ds, "raw_two_frames.dcm")
    bad.append(("raw_two_frames.dcm", "(7FE0,0010) Pixel Data: 1748 bytes where 19 x 23 pixels of 16 bits "
                "need 874: 2 frames' worth, but the file says it has one frame"))
    # 10 trailing bytes (less than a frame): read, with a warning
    ds = pydicom.dcmread(os.path.join(fx.OUT, "mg12_rescale.dcm"))
    ds.PixelData = ds.PixelData + bytes(10)
    save(ds, "raw_trailing.dcm")

    # one 8-bit pixel and its pad byte: two bytes, one frame more by count, still only padding
    ds = pydicom.dcmread(os.path.join(fx.OUT, "u8.dcm"))
    ds.Rows, ds.Columns = 1, 1
    ds.PixelData = ds.PixelData[:2]
    save(ds, "raw_one_pixel.dcm")

    fx.merge_bad(bad)

if __name__ == "__main__":
    main()
