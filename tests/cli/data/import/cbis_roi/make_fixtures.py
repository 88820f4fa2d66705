#!/usr/bin/python3
"""Makes the CBIS-DDSM ROI-mask fixtures of tests/cli/test_import.sh (run once, outputs committed):

film.dcm        a 48 x 40 16-bit film (MONOCHROME2, a ramp)
mask.dcm        its ROI mask: 48 x 40, 8-bit, 255 in rows 10..19, columns 5..16 (box x 5, y 10,
                w 12, h 10), 0 elsewhere -- as TCIA ships them
crop.dcm        a 10 x 12 8-bit grey crop (a lesion crop, which shares the mask's folder)
mask_small.dcm  a binary mask of another size (24 x 20): not the film's, so no box from it
mask.jpg        mask.dcm as a JPEG (quality 75: the Kaggle copy's blurred edges)
crop.jpg        crop.dcm as a JPEG

    /usr/bin/python3 tests/cli/data/import/cbis_roi/make_fixtures.py
"""
import os

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

here = os.path.dirname(os.path.abspath(__file__))


def write(name, px, bits):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture, as CBIS-DDSM
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[name])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(name, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = "Mass-Training_P_00001_LEFT_CC"
    ds.Modality = "MG"
    ds.Rows, ds.Columns = px.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = px.astype(np.uint16 if bits == 16 else np.uint8).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(os.path.join(here, name), write_like_original=False)


film = (np.arange(48 * 40).reshape(48, 40) * 17 % 4096).astype(np.uint16)
mask = np.zeros((48, 40), np.uint8)
mask[10:20, 5:17] = 255
crop = (np.arange(10 * 12).reshape(10, 12) * 2 + 20).astype(np.uint8)
small = np.zeros((24, 20), np.uint8)
small[4:9, 3:11] = 255
write("film.dcm", film, 16)
write("mask.dcm", mask, 8)
write("crop.dcm", crop, 8)
write("mask_small.dcm", small, 8)
Image.fromarray(mask).save(os.path.join(here, "mask.jpg"), quality=75)
Image.fromarray(crop).save(os.path.join(here, "crop.jpg"), quality=75)
