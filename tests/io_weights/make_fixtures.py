#!/usr/bin/python3
"""Makes the fixtures of tests/io_weights (run with Debian's /usr/bin/python3, which has
torch, numpy and h5py):

    /usr/bin/python3 tests/io_weights/make_fixtures.py [--weights ../shared/weights]

writes tests/io_weights/data/. Every file is small (< 200 KB) and deterministic.

Expected values go into expected_*.txt, one tensor a line, in the order the C reader must
return them:

    name ndim d0 .. d{ndim-1} numel sum sumabs nvals v0 .. v{nvals-1}

sum and sumabs are float64 sums of the float32 values (%.17g); v are float32 values as
float.hex() (exact), all of them when numel <= 64, else the first 16.

The same script verifies a safetensors file written by the C writer, with the `safetensors`
module if it is installed and otherwise with the small reader below (stdlib only):

    python3 make_fixtures.py --verify-safetensors written.safetensors reference.safetensors
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

# ---------------------------------------------------------------------------------------------
# safetensors by hand (the layout of the reference writer: u64 header length, compact JSON
# header with __metadata__ first and tensors in data order, padded with spaces to 8 bytes)
# ---------------------------------------------------------------------------------------------
ST_DTYPES = {"F64": ("d", 8), "F32": ("f", 4), "F16": ("e", 2), "BF16": (None, 2),
             "I64": ("q", 8), "I32": ("i", 4), "I16": ("h", 2), "I8": ("b", 1),
             "U8": ("B", 1), "BOOL": ("?", 1)}


def st_encode(entries, metadata=None, pad=True):
    """entries: list of (name, dtype, shape, raw bytes) in data order."""
    header = collections.OrderedDict()
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dt, shape, raw in entries:
        header[name] = collections.OrderedDict(
            [("dtype", dt), ("shape", list(shape)), ("data_offsets", [off, off + len(raw)])])
        off += len(raw)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(e[3] for e in entries)


def st_read(path):
    """Stdlib-only reader: {name: (dtype, shape, list of floats)} plus the metadata."""
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    assert 8 + n <= len(b), "header length past the end"
    header = json.loads(b[8:8 + n].decode("utf-8"),
                        object_pairs_hook=collections.OrderedDict)
    meta = header.pop("__metadata__", None)
    data = b[8 + n:]
    out = collections.OrderedDict()
    pos = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, e = info["data_offsets"]
        assert a == pos, "%s: gap or overlap at %d" % (name, a)
        code, size = ST_DTYPES[info["dtype"]]
        numel = 1
        for d in info["shape"]:
            numel *= d
        assert e - a == numel * size, "%s: offsets do not match the shape" % name
        raw = data[a:e]
        if info["dtype"] == "BF16":
            vals = [struct.unpack("<f", b"\0\0" + raw[2 * i:2 * i + 2])[0] for i in range(numel)]
        else:
            vals = list(struct.unpack("<%d%s" % (numel, code), raw))
        out[name] = (info["dtype"], tuple(info["shape"]), [float(v) for v in vals])
        pos = e
    assert pos == len(data), "bytes after the last tensor"
    return out, meta


def verify_safetensors(written, reference):
    try:
        from safetensors.numpy import load_file  # noqa: F401
        import numpy as np
        got = load_file(written)
        ref = load_file(reference)
        assert list(sorted(got)) == list(sorted(ref)), "names differ"
        for k in ref:
            assert got[k].dtype == np.float32 and got[k].shape == ref[k].shape, k
            assert np.array_equal(got[k], ref[k].astype(np.float32)), k
        print("verified with the safetensors module: %d tensors" % len(ref))
    except ImportError:
        got, _ = st_read(written)
        ref, _ = st_read(reference)
        assert list(got) == list(ref), "names or order differ"
        for k in ref:
            assert got[k][0] == "F32", k
            assert got[k][1] == ref[k][1], k
            assert got[k][2] == ref[k][2], k
        print("verified with the stdlib reader (safetensors module not installed): "
              "%d tensors" % len(ref))
    return 0


if len(sys.argv) >= 2 and sys.argv[1] == "--verify-safetensors":
    sys.exit(verify_safetensors(sys.argv[2], sys.argv[3]))

# Everything below needs torch, numpy and h5py.
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def expected_line(name, arr):
    a = np.asarray(arr, dtype=np.float32)
    flat = a.reshape(-1)
    n = flat.size
    vals = flat if n <= 64 else flat[:16]
    parts = [name, str(a.ndim)] + [str(d) for d in a.shape] + [str(n)]
    parts += ["%.17g" % float(flat.astype(np.float64).sum()),
              "%.17g" % float(np.abs(flat.astype(np.float64)).sum()), str(len(vals))]
    parts += [float(v).hex() for v in vals]
    return " ".join(parts)


def write_expected(path, named):
    with open(path, "w") as f:
        f.write("# name ndim dims... numel sum sumabs nvals values(float.hex)\n")
        for name, arr in named:
            f.write(expected_line(name, arr) + "\n")


def to_f32(t):
    return t.detach().to(torch.float32).contiguous().numpy()


def small_state_dict():
    torch.manual_seed(20240607)
    net = nn.Sequential(collections.OrderedDict([
        ("conv1", nn.Conv2d(3, 4, 3, bias=False)),
        ("bn1", nn.BatchNorm2d(4)),
        ("fc", nn.Linear(6, 2)),
    ]))
    net.train()
    net.bn1(torch.randn(5, 4, 3, 3))  # non-trivial running stats, num_batches_tracked = 1
    sd = net.state_dict()
    big = torch.arange(12, dtype=torch.float32) * 0.5 - 1.0
    sd["extra.big"] = big
    sd["extra.view"] = big[3:7]                       # storage offset 3, shared storage
    sd["extra.transposed"] = torch.randn(3, 5).t()    # strides (1, 5): not contiguous
    sd["extra.f16"] = torch.randn(7).half()
    sd["extra.bf16"] = torch.randn(5).bfloat16()
    sd["extra.f64"] = torch.randn(2, 3, dtype=torch.float64)
    sd["extra.i32"] = torch.tensor([-3, 0, 7, 2 ** 20], dtype=torch.int32)
    sd["extra.i16"] = torch.tensor([-300, 5], dtype=torch.int16)
    sd["extra.i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["extra.u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, True])
    sd["extra.scalar"] = torch.tensor(3.25)
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.param"] = nn.Parameter(torch.randn(2, 2))   # _rebuild_parameter
    return sd


def save_legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


# ---- crafted torch files: arbitrary storages and tensor metadata -----------------------------

class FakeStorage:
    def __init__(self, key, numel, stype=None, data=None):
        self.key, self.numel = key, numel
        self.stype = stype if stype is not None else torch.FloatStorage
        self.data = data


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                 collections.OrderedDict()))


class CraftPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel)
        return None


def craft_zip(path, obj, storages, compress=False, data_pkl=None, prefix="archive"):
    buf = io.BytesIO()
    if data_pkl is None:
        CraftPickler(buf, protocol=2).dump(obj)
        data_pkl = buf.getvalue()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        zip_put(z, prefix + "/data.pkl", data_pkl, method)
        for s in storages:
            zip_put(z, prefix + "/data/" + s.key, s.data, method)
        zip_put(z, prefix + "/version", b"3\n", method)


def zip_put(z, name, data, method):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = method
    z.writestr(info, data)


class LegacyPickler(pickle.Pickler):
    """Persistent ids of the legacy format: 6-tuples with optional view metadata."""

    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel, getattr(obj, "view", None))
        return None


def craft_legacy(path, obj, storages, keys=None):
    """The legacy container by hand: magic, protocol, sys_info, data, keys, raw storages."""
    buf = io.BytesIO()
    for v in (0x1950a86a20f9469cfc6c, 1001,
              {"protocol_version": 1001, "little_endian": True,
               "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(v, buf, protocol=2)
    LegacyPickler(buf, protocol=2).dump(obj)
    keys = [s.key for s in storages] if keys is None else keys
    pickle.dump(keys, buf, protocol=2)
    for s in storages:
        buf.write(struct.pack("<q", s.numel))
        buf.write(s.data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def f32_bytes(vals):
    return struct.pack("<%df" % len(vals), *vals)


class EvilSystem:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("1+1",))


class SomeClass:
    def __init__(self):
        self.x = 1


def make_pth(out):
    sd = small_state_dict()
    expected = [(k, to_f32(v)) for k, v in sd.items()]
    write_expected(os.path.join(out, "expected_small.txt"), expected)

    torch.save(sd, os.path.join(out, "sd_zip.pth"))
    prefixed = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    save_legacy({"best_prec1": 91.25, "state_dict": prefixed}, os.path.join(out, "sd_legacy.th"))
    torch.save({"epoch": 7, "model": sd}, os.path.join(out, "ckpt_model.pth"))
    torch.save({"epoch": 7, "net": sd}, os.path.join(out, "no_state_dict.pth"))

    # truncations of both containers
    for src, cuts in (("sd_zip.pth", (100, "half", -1, -22)),
                      ("sd_legacy.th", (40, 300, "half", -1))):
        with open(os.path.join(out, src), "rb") as f:
            b = f.read()
        for c in cuts:
            n = len(b) // 2 if c == "half" else (c if c > 0 else len(b) + c)
            name = "trunc_%s_%s" % (src.replace(".", "_"), "half" if c == "half" else
                                    ("at%d" % c if c > 0 else "minus%d" % -c))
            with open(os.path.join(out, name + ".pth"), "wb") as f:
                f.write(b[:n])

    # a corrupted byte inside a stored zip entry: the CRC check must catch it
    with open(os.path.join(out, "sd_zip.pth"), "rb") as f:
        b = bytearray(f.read())
    z = zipfile.ZipFile(os.path.join(out, "sd_zip.pth"))
    info = [i for i in z.infolist() if i.filename.endswith("/data/0")][0]
    nlen, xlen = struct.unpack("<HH", b[info.header_offset + 26:info.header_offset + 30])
    data_at = info.header_offset + 30 + nlen + xlen
    b[data_at] ^= 0xFF
    with open(os.path.join(out, "bad_crc.pth"), "wb") as f:
        f.write(b)

    # compressed entries (zipfile deflate) of an otherwise valid torch file
    src = zipfile.ZipFile(os.path.join(out, "sd_zip.pth"))
    with zipfile.ZipFile(os.path.join(out, "compressed.pth"), "w", zipfile.ZIP_DEFLATED) as z:
        for i in src.infolist():
            zip_put(z, i.filename, src.read(i.filename), zipfile.ZIP_DEFLATED)

    # hostile pickles
    with open(os.path.join(out, "evil_system.pth"), "wb") as f:
        pickle.dump(EvilSystem(), f, protocol=2)           # legacy path: GLOBAL posix system
    craft_zip(os.path.join(out, "evil_eval.pth"), None, [],
              data_pkl=pickle.dumps(EvilEval(), protocol=4))  # STACK_GLOBAL builtins eval
    craft_zip(os.path.join(out, "evil_class.pth"), None, [],
              data_pkl=pickle.dumps({"w": SomeClass()}, protocol=2))  # copyreg._reconstructor
    craft_zip(os.path.join(out, "evil_os_system.pth"), None, [],
              data_pkl=b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    craft_zip(os.path.join(out, "evil_getattr.pth"), None, [],
              data_pkl=b"\x80\x02cbuiltins\ngetattr\nq\x00.")
    # pickle machine abuse
    craft_zip(os.path.join(out, "bad_memo.pth"), None, [], data_pkl=b"\x80\x02h\x05.")
    craft_zip(os.path.join(out, "bad_setitem.pth"), None, [], data_pkl=b"\x80\x02}Ns.")
    craft_zip(os.path.join(out, "bad_opcode.pth"), None, [],
              data_pkl=b"\x80\x02(i__main__\nX\n.")
    craft_zip(os.path.join(out, "bad_nostop.pth"), None, [], data_pkl=b"\x80\x02}q\x00")
    craft_zip(os.path.join(out, "bad_marks.pth"), None, [],
              data_pkl=b"\x80\x02" + b"(" * 20000 + b"}.")
    craft_zip(os.path.join(out, "bad_strlen.pth"), None, [],
              data_pkl=b"\x80\x02X\xff\xff\xff\x7fabc.")

    # crafted tensor metadata
    s10 = FakeStorage("0", 10, data=f32_bytes([float(i) for i in range(10)]))

    def one(name, t, storages):
        craft_zip(os.path.join(out, name), collections.OrderedDict([("w", t)]), storages)

    one("oob_shape.pth", FakeTensor(s10, 0, (11,), (1,)), [s10])
    one("oob_offset.pth", FakeTensor(s10, 8, (3,), (1,)), [s10])
    one("oob_stride.pth", FakeTensor(s10, 0, (2, 5), (6, 1)), [s10])
    one("huge_shape.pth", FakeTensor(s10, 0, (1 << 40,), (1,)), [s10])
    one("huge_dims.pth", FakeTensor(s10, 0, (1 << 31, 1 << 31, 1 << 31), (0, 0, 0)), [s10])
    one("ndim9.pth", FakeTensor(s10, 0, (1,) * 9, (1,) * 9), [s10])
    one("neg_stride.pth", FakeTensor(s10, 9, (3,), (-1,)), [s10])
    s_huge = FakeStorage("0", 1 << 40, data=f32_bytes([1.0] * 10))
    one("huge_storage.pth", FakeTensor(s_huge, 0, (10,), (1,)), [s_huge])
    s_short = FakeStorage("0", 1000, data=f32_bytes([1.0] * 10))
    one("short_storage.pth", FakeTensor(s_short, 0, (10,), (1,)), [s_short])
    s_slash = FakeStorage("../0", 10, data=f32_bytes([1.0] * 10))
    one("bad_key.pth", FakeTensor(s_slash, 0, (10,), (1,)), [s_slash])
    s_missing = FakeStorage("7", 10, data=None)
    one("missing_storage.pth", FakeTensor(s_missing, 0, (10,), (1,)), [])
    # valid strided views, gathered by strides
    s12 = FakeStorage("0", 12, data=f32_bytes([float(i) for i in range(12)]))
    good = collections.OrderedDict([
        ("t", FakeTensor(s12, 0, (3, 2), (1, 3))),       # a transposed view
        ("bcast", FakeTensor(s12, 1, (2, 3), (0, 2))),   # stride 0
        ("tail", FakeTensor(s12, 9, (3,), (1,))),        # ends at the last element
    ])
    craft_zip(os.path.join(out, "strided_ok.pth"), good, [s12])
    # legacy storage views: (view_key, offset, size) into a root storage
    root = FakeStorage("0", 12, data=f32_bytes([float(i) for i in range(12)]))
    view = FakeStorage("0", 12)
    view.view = ("v0", 4, 6)                           # elements 4..9 of the root
    craft_legacy(os.path.join(out, "legacy_view.th"),
                 collections.OrderedDict([("v", FakeTensor(view, 1, (5,), (1,))),
                                          ("r", FakeTensor(root, 0, (12,), (1,)))]), [root])
    write_expected(os.path.join(out, "expected_legacy_view.txt"), [
        ("v", np.arange(5, 10, dtype=np.float32)),
        ("r", np.arange(12, dtype=np.float32))])
    bad_view = FakeStorage("0", 12)
    bad_view.view = ("v0", 10, 6)
    craft_legacy(os.path.join(out, "legacy_bad_view.th"),
                 {"v": FakeTensor(bad_view, 0, (6,), (1,))}, [root])
    over = FakeStorage("0", 12)
    over.view = ("v0", 4, 6)
    craft_legacy(os.path.join(out, "legacy_view_oob.th"),
                 {"v": FakeTensor(over, 2, (5,), (1,))}, [root])   # 4+2+5 > 4+6
    craft_legacy(os.path.join(out, "legacy_unknown_key.th"),
                 {"r": FakeTensor(root, 0, (12,), (1,))}, [root], keys=["0", "9"])
    craft_legacy(os.path.join(out, "legacy_count_mismatch.th"),
                 {"r": FakeTensor(FakeStorage("0", 11), 0, (11,), (1,))}, [root])

    base = torch.arange(12, dtype=torch.float32)
    write_expected(os.path.join(out, "expected_strided.txt"), [
        ("t", base.as_strided((3, 2), (1, 3), 0).numpy()),
        ("bcast", base.as_strided((2, 3), (0, 2), 1).numpy()),
        ("tail", base.as_strided((3,), (1,), 9).numpy()),
    ])


def make_safetensors(out):
    rng = np.random.default_rng(7)
    f32 = collections.OrderedDict([
        ("a.bias", rng.standard_normal(3).astype(np.float32)),
        ("a.weight", rng.standard_normal((3, 2, 2)).astype(np.float32)),
        ("b.scalar", np.array(1.5, dtype=np.float32)),
        ("b.z_empty", np.zeros((0, 4), dtype=np.float32)),
        ("c\"quoted\\name", rng.standard_normal(2).astype(np.float32)),
    ])
    names = sorted(f32)  # the reference writer sorts by (dtype, name); all F32 here
    entries = [(k, "F32", f32[k].shape, f32[k].astype("<f4").tobytes()) for k in names]
    with open(os.path.join(out, "st_f32.safetensors"), "wb") as f:
        f.write(st_encode(entries, metadata={"format": "pt"}))
    write_expected(os.path.join(out, "expected_st_f32.txt"), [(k, f32[k]) for k in names])

    bf16_src = rng.standard_normal(4).astype(np.float32)
    bf16_raw = b"".join(struct.pack("<f", v)[2:] for v in bf16_src)  # truncate to bfloat16
    bf16_val = np.array([struct.unpack("<f", b"\0\0" + bf16_raw[2 * i:2 * i + 2])[0]
                         for i in range(4)], dtype=np.float32)
    mixed = [
        ("m.f64", "F64", (2, 2), rng.standard_normal((2, 2)).astype("<f8")),
        ("m.f16", "F16", (3,), rng.standard_normal(3).astype("<f2")),
        ("m.i64", "I64", (2,), np.array([-5, 1 << 40], dtype="<i8")),
        ("m.i32", "I32", (2,), np.array([-7, 123456], dtype="<i4")),
        ("m.i16", "I16", (1,), np.array([-2], dtype="<i2")),
        ("m.i8", "I8", (2,), np.array([-1, 5], dtype="i1")),
        ("m.u8", "U8", (2,), np.array([0, 255], dtype="u1")),
        ("m.bool", "BOOL", (3,), np.array([1, 0, 1], dtype="u1")),
    ]
    ents = [(n, d, s, a.tobytes()) for n, d, s, a in mixed]
    ents.append(("m.bf16", "BF16", (4,), bf16_raw))
    with open(os.path.join(out, "st_mixed.safetensors"), "wb") as f:
        f.write(st_encode(ents, metadata={"note": "dtypes", "x": "y"}))
    exp = [(n, a.astype(np.float32)) for n, d, s, a in mixed] + [("m.bf16", bf16_val)]
    write_expected(os.path.join(out, "expected_st_mixed.txt"), exp)

    # malformed
    w = np.arange(6, dtype="<f4")
    good = [("w", "F32", (2, 3), w.tobytes())]

    def raw_file(name, header_bytes, data, hlen=None):
        n = len(header_bytes) if hlen is None else hlen
        with open(os.path.join(out, name), "wb") as f:
            f.write(struct.pack("<Q", n) + header_bytes + data)

    def hdr_file(name, header_obj, data=w.tobytes()):
        raw_file(name, json.dumps(header_obj).encode(), data)

    def ent(dt="F32", shape=(2, 3), off=(0, 24)):
        return {"dtype": dt, "shape": list(shape), "data_offsets": list(off)}

    raw_file("st_huge_header.safetensors", b"{}", b"", hlen=1 << 62)
    raw_file("st_header_past_end.safetensors", b"{}", b"", hlen=4096)
    raw_file("st_bad_json.safetensors", b'{"w":{"dtype":"F32",}}', b"")
    raw_file("st_dup_key.safetensors",
             b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
             b'"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8)
    raw_file("st_deep_json.safetensors", b"[" * 200 + b"]" * 200, b"")
    raw_file("st_bad_utf8.safetensors", b'{"\xff":{}}', b"")
    hdr_file("st_bad_dtype.safetensors", {"w": ent(dt="F8_E4M3", off=(0, 6), shape=(6,))},
             w.tobytes()[:6])
    hdr_file("st_u16.safetensors", {"w": ent(dt="U16", shape=(3,), off=(0, 6))}, b"\0" * 6)
    hdr_file("st_offsets_mismatch.safetensors", {"w": ent(off=(0, 20))})
    hdr_file("st_offsets_past_end.safetensors", {"w": ent(off=(0, 24))}, w.tobytes()[:20])
    hdr_file("st_overlap.safetensors", {"a": ent(shape=(3,), off=(0, 12)),
                                        "b": ent(shape=(4,), off=(8, 24))})
    hdr_file("st_gap.safetensors", {"a": ent(shape=(2,), off=(0, 8)),
                                    "b": ent(shape=(3,), off=(12, 24))})
    hdr_file("st_trailing.safetensors", {"w": ent(shape=(5,), off=(0, 20))})
    hdr_file("st_ndim9.safetensors", {"w": ent(shape=(1,) * 9, off=(0, 4))}, b"\0" * 4)
    hdr_file("st_neg_shape.safetensors", {"w": ent(shape=(-1, 3))})
    hdr_file("st_huge_shape.safetensors",
             {"w": ent(shape=(1 << 40, 1 << 40), off=(0, 24))})
    hdr_file("st_float_shape.safetensors", {"w": {"dtype": "F32", "shape": [2.0, 3],
                                                  "data_offsets": [0, 24]}})
    hdr_file("st_extra_key.safetensors", {"w": dict(ent(), extra=1)})
    hdr_file("st_bad_metadata.safetensors", {"__metadata__": {"k": 1}, "w": ent()})
    with open(os.path.join(out, "st_f32.safetensors"), "rb") as f:
        b = f.read()
    with open(os.path.join(out, "st_truncated.safetensors"), "wb") as f:
        f.write(b[:-5])
    with open(os.path.join(out, "st_short.safetensors"), "wb") as f:
        f.write(b[:5])


def make_npy(out):
    rng = np.random.default_rng(3)
    arrays = collections.OrderedDict([
        ("f4", rng.standard_normal((3, 4)).astype("<f4")),
        ("f8", rng.standard_normal((2, 3, 2)).astype("<f8")),
        ("f2", rng.standard_normal(5).astype("<f2")),
        ("i8", np.array([[-(1 << 40), 3], [7, 0]], dtype="<i8")),
        ("i4", np.array([-5, 6, 1 << 20], dtype="<i4")),
        ("i2", np.array([-300, 300], dtype="<i2")),
        ("i1", np.array([-128, 127, 0], dtype="i1")),
        ("u1", np.array([[0, 128, 255]], dtype="u1")),
        ("b1", np.array([True, False, True, True])),
        ("scalar", np.array(2.5, dtype="<f4")),
        ("empty", np.zeros((0, 5), dtype="<f4")),
    ])
    for k, a in arrays.items():
        np.save(os.path.join(out, "npy_%s.npy" % k), a)
    write_expected(os.path.join(out, "expected_npy.txt"),
                   [("npy_" + k, a.astype(np.float32)) for k, a in arrays.items()])
    v = arrays["f4"]
    for ver in ((2, 0), (3, 0)):
        with open(os.path.join(out, "npy_v%d.npy" % ver[0]), "wb") as f:
            np.lib.format.write_array(f, v, version=ver)
    # malformed
    np.save(os.path.join(out, "npy_bad_fortran.npy"), np.asfortranarray(rng.standard_normal((3, 2))))
    np.save(os.path.join(out, "npy_bad_bigendian.npy"), v.astype(">f4"))
    np.save(os.path.join(out, "npy_bad_structured.npy"),
            np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    np.save(os.path.join(out, "npy_bad_object.npy"), np.array([1, "x"], dtype=object),
            allow_pickle=True)
    with open(os.path.join(out, "npy_f4.npy"), "rb") as f:
        b = f.read()
    with open(os.path.join(out, "npy_bad_truncated.npy"), "wb") as f:
        f.write(b[:-3])
    with open(os.path.join(out, "npy_bad_trailing.npy"), "wb") as f:
        f.write(b + b"\0\0\0\0")
    with open(os.path.join(out, "npy_bad_magic.npy"), "wb") as f:
        f.write(b"\x93NUMPX" + b[6:])
    with open(os.path.join(out, "npy_bad_hlen.npy"), "wb") as f:
        f.write(b[:8] + b"\xff\xff" + b[10:])

    def hdr(name, d):
        h = d.encode("latin1")
        h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + b"\0" * 16)

    hdr("npy_bad_huge_shape.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")
    hdr("npy_bad_ndim.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }")
    hdr("npy_bad_nokey.npy", "{'descr': '<f4', 'shape': (4,), }")
    hdr("npy_bad_dict.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)")


def make_h5(out, weights):
    import h5py
    # a tiny Keras-layout full-model file: model_weights/<layer>/<layer>/<name>:0
    rng = np.random.default_rng(11)
    layers = collections.OrderedDict([
        ("conv1", [("kernel:0", rng.standard_normal((3, 3, 2, 4)).astype("<f4"))]),
        ("conv1_bn", [("gamma:0", rng.standard_normal(4).astype("<f4")),
                      ("beta:0", rng.standard_normal(4).astype("<f4")),
                      ("moving_mean:0", rng.standard_normal(4).astype("<f4")),
                      ("moving_variance:0", rng.random(4).astype("<f4"))]),
        ("conv1_relu", []),
        ("dense", [("kernel:0", rng.standard_normal((4, 3)).astype("<f8")),
                   ("bias:0", np.zeros(3, dtype="<f4"))]),
    ])
    path = os.path.join(out, "keras_small.h5")
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.8.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = b'{"class_name": "Functional"}'
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([k.encode() for k in layers], dtype="S")
        for lname, ws in layers.items():
            g = mw.create_group(lname)
            g.attrs["weight_names"] = np.array([("%s/%s" % (lname, w)).encode() for w, _ in ws],
                                               dtype="S10" if not ws else "S")
            if ws:
                sub = g.create_group(lname)
                for w, a in ws:
                    sub.create_dataset(w, data=a)
    exp = []
    for lname, ws in layers.items():
        for w, a in ws:
            exp.append(("%s/%s" % (lname, w.split(":")[0]), a.astype(np.float32)))
    write_expected(os.path.join(out, "expected_keras_small.txt"), exp)
    # weights-only layout (model.save_weights): layer_names on the root
    with h5py.File(os.path.join(out, "keras_weights_only.h5"), "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"], dtype="S")
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0"], dtype="S")
        g.create_group("dense").create_dataset("kernel:0", data=np.eye(2, dtype="<f4"))
    write_expected(os.path.join(out, "expected_keras_weights_only.txt"),
                   [("dense/kernel", np.eye(2, dtype=np.float32))])
    # malformed: truncated, and a weight name that points nowhere
    with open(path, "rb") as f:
        b = f.read()
    with open(os.path.join(out, "keras_truncated.h5"), "wb") as f:
        f.write(b[:len(b) // 2])
    with h5py.File(os.path.join(out, "keras_missing.h5"), "w") as f:
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"conv1"], dtype="S")
        g = mw.create_group("conv1")
        g.attrs["weight_names"] = np.array([b"conv1/kernel:0"], dtype="S")

    # the real MobileNet v1 0.25 in the shared weights folder
    mob = os.path.join(weights, "mobilenet_v1_0.25_224.h5")
    if os.path.exists(mob):
        exp = []
        with h5py.File(mob, "r") as f:
            mw = f["model_weights"]
            for lname in [n.decode() if isinstance(n, bytes) else n
                          for n in mw.attrs["layer_names"]]:
                g = mw[lname]
                for wn in g.attrs["weight_names"]:
                    wn = wn.decode() if isinstance(wn, bytes) else wn
                    exp.append(("%s/%s" % (lname, wn.split("/")[-1].split(":")[0]),
                                np.asarray(g[wn], dtype=np.float32)))
        write_expected(os.path.join(out, "expected_mobilenet.txt"), exp)
    else:
        print("note: %s missing, expected_mobilenet.txt not refreshed" % mob)


def make_resnet20(out, weights):
    p = os.path.join(weights, "resnet20-12fca82f.th")
    if not os.path.exists(p):
        print("note: %s missing, expected_resnet20.txt not refreshed" % p)
        return
    ck = torch.load(p, map_location="cpu")
    sd = ck["state_dict"]
    write_expected(os.path.join(out, "expected_resnet20.txt"),
                   [(k[len("module."):] if k.startswith("module.") else k, to_f32(v))
                    for k, v in sd.items()])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(HERE, "..", "..", "..", "shared",
                                                      "weights"))
    args = ap.parse_args()
    os.makedirs(DATA, exist_ok=True)
    make_pth(DATA)
    make_safetensors(DATA)
    make_npy(DATA)
    make_h5(DATA, args.weights)
    make_resnet20(DATA, args.weights)
    # self-check: the hand-written safetensors parse with the stdlib reader
    st_read(os.path.join(DATA, "st_f32.safetensors"))
    st_read(os.path.join(DATA, "st_mixed.safetensors"))
    big = [f for f in os.listdir(DATA) if os.path.getsize(os.path.join(DATA, f)) > 200 * 1024]
    assert not big, "fixtures over 200 KB: %s" % big
    print("wrote %d files to %s" % (len(os.listdir(DATA)), DATA))


if __name__ == "__main__":
    main()
