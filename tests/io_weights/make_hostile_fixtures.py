#!/usr/bin/python3
"""Makes the hostile weight fixtures of issue 15 in tests/io_weights/data (run once with Debian's
/usr/bin/python3, which has h5py and numpy; the outputs are committed):

    /usr/bin/python3 tests/io_weights/make_hostile_fixtures.py

Keras .h5 files whose datasets are not stored inside the file, each in the weights-only layout
(layer_names on the root, one layer 'dense' with weight 'dense/kernel:0'):
  h5_external_passwd.h5  the dataset's storage is the external file /etc/passwd
  h5_external_zero.h5    ... is /dev/zero
  h5_extlink.h5          the weight is an external link into another file
  h5_extlink_group.h5    the layer group itself is an external link
  h5_softlink_ext.h5     the weight is a soft link whose path runs through an external link
  h5_virtual.h5          the weight is a virtual dataset mapped onto another file
  h5_unknown_filter.h5   the weight is chunked through filter 32001 (Blosc, not in libhdf5)
  h5_softlink_ok.h5      the weight is a soft link to a dataset in the same file (readable)
  h5_deep_groups.h5      a valid weight beside 100 nested groups (libhdf5's visit recurses)
  h5_zeros_bomb.h5       a 2048 x 2048 float32 weight of deflated zeros: 16 MiB from ~20 kB
and a safetensors file whose header length is 2^63 (st_len_2pow63.safetensors).

Seeds for fuzz_pth (tests/fuzz/corpus/pth): small versions of the pickle memory bomb of issue
15, a legacy torch.save header followed by "]a" pairs (evil_list_bomb.th), and the pairs where
the magic number belongs (evil_list_magic.th). The full-size bombs are built by test_weights.
"""
import pickle
import os
import struct

import h5py
import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
K = np.arange(4, dtype="<f4").reshape(2, 2)


def keras(name, make_weight):
    with h5py.File(os.path.join(DATA, name), "w", libver="earliest") as f:
        f.attrs["layer_names"] = np.array([b"dense"], dtype="S")
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0"], dtype="S")
        make_weight(f, g)


def external(target):
    def mk(f, g):
        g.create_group("dense").create_dataset("kernel:0", shape=(2, 2), dtype="<f4",
                                               external=[(target, 0, 16)])
    return mk


def main():
    keras("h5_external_passwd.h5", external("/etc/passwd"))
    keras("h5_external_zero.h5", external("/dev/zero"))

    def extlink(f, g):
        g.create_group("dense")["kernel:0"] = h5py.ExternalLink("/etc/passwd", "/kernel")
    keras("h5_extlink.h5", extlink)

    with h5py.File(os.path.join(DATA, "h5_extlink_group.h5"), "w", libver="earliest") as f:
        f.attrs["layer_names"] = np.array([b"dense"], dtype="S")
        f["dense"] = h5py.ExternalLink("other.h5", "/dense")

    def softlink_ext(f, g):
        f["ext"] = h5py.ExternalLink("/etc/passwd", "/")
        g.create_group("dense")["kernel:0"] = h5py.SoftLink("/ext/kernel")
    keras("h5_softlink_ext.h5", softlink_ext)

    def virtual(f, g):
        layout = h5py.VirtualLayout(shape=(2, 2), dtype="<f4")
        layout[:] = h5py.VirtualSource("/etc/other.h5", "kernel", shape=(2, 2))
        g.create_group("dense").create_virtual_dataset("kernel:0", layout, fillvalue=0)
    with h5py.File(os.path.join(DATA, "h5_virtual.h5"), "w", libver="latest") as f:
        f.attrs["layer_names"] = np.array([b"dense"], dtype="S")
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0"], dtype="S")
        virtual(f, g)

    def unknown_filter(f, g):
        g.create_group("dense").create_dataset("kernel:0", data=K, chunks=(2, 2),
                                               compression=32001, allow_unknown_filter=True)
    keras("h5_unknown_filter.h5", unknown_filter)

    def softlink_ok(f, g):
        f.create_group("store").create_dataset("k", data=K)
        g.create_group("dense")["kernel:0"] = h5py.SoftLink("/store/k")
    keras("h5_softlink_ok.h5", softlink_ok)

    fuzz = os.path.join(os.path.dirname(DATA), "..", "fuzz", "corpus", "pth")
    head = (pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2) +
            pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2))
    bomb = b"\x80\x02]" + b"]a" * 1000 + b"."
    with open(os.path.join(fuzz, "evil_list_bomb.th"), "wb") as f:
        f.write(head + bomb)
    with open(os.path.join(fuzz, "evil_list_magic.th"), "wb") as f:
        f.write(bomb)

    def deep(f, g):
        g.create_group("dense").create_dataset("kernel:0", data=K)
        x = f
        for _ in range(100):
            x = x.create_group("g")
    keras("h5_deep_groups.h5", deep)

    def zeros(f, g):
        g.create_group("dense").create_dataset("kernel:0", data=np.zeros((2048, 2048), "<f4"),
                                               chunks=(1024, 1024), compression="gzip",
                                               compression_opts=9)
    keras("h5_zeros_bomb.h5", zeros)

    header = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    with open(os.path.join(DATA, "st_len_2pow63.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 1 << 63) + header + b"\0\0\0\0")


if __name__ == "__main__":
    main()
