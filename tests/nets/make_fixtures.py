#!/usr/bin/python3
"""Makes the PyTorch fixtures the nets tests compare against (run with /usr/bin/python3;
needs Debian's python3-torch and python3-torchvision).

    /usr/bin/python3 tests/nets/make_fixtures.py            # writes tests/nets/fixtures/

Weights are not stored: both this script and the C test generate them from a counter-based
hash (splitmix64 keyed by FNV-1a of the tensor name), so a full ResNet-18/50 costs nothing
to commit. Stored per network, as raw little-endian float32 in <net>.bin with a text index
<net>.txt ("name count" per record, records in file order):

    meta            n c h w classes [nsample, when not 256]
    x, labels       the input batch (absent: generated, see mobilenet_v1_grad) and its
                    labels (labels as floats)
    logits_eval     inference-mode logits
    <cfg>:loss, <cfg>:logits           training forward, mean cross-entropy
    <cfg>:grad:<param>                 gradient at sampled positions (all if numel <= 256)
    <cfg>:gradnorm:<param>             L2 norm of the whole gradient tensor
    <cfg>:stat:<buffer>                BN running stats after the forward (sampled)

    <cfg>:f32err:<param>               PyTorch's own float32 error on those samples
    <cfg>:f32err_logits                and on the logits (max abs diff / max |ref|)

cfg is all_frozen, all_train, last_frozen, last_train: unfreeze all stages or only the last
stage (plus the head), BN frozen (eval-mode BN, affine trainable) or train (batch stats).
Frozen stages are in eval mode, as the engine runs them. References (logits, loss, grads,
stats) come from a float64 copy of the model; float32 PyTorch is measured against them.

mobilenet_v1_grad: Keras MobileNet v1, width 0.25, 5-class conv_preds head, generated weights
(Keras names; BN moving stats like running stats, gamma like .weight), dropout 0, on 2x3x67x54:
the odd height makes conv1's "same" padding symmetric (1, 1), the even width asymmetric (0, 1),
and the stride-2 blocks' ZeroPadding2D pads bottom/right only (padding top/left instead moves
the logits by 52%, conv1's width padding on the left by 11%); last stage = block13. 64 sampled positions per tensor (meta's 6th value). The
input is not stored either: uniform in [-1, 1) from the same hash under the name "input".

resnet50 is made well-conditioned (docs/engine-checks.md): each bottleneck's last BN weight
(*.bn3.weight) is generated in [0.05, 0.15], not [0.5, 1.5] (with unit weights the 16 blocks in
BN training mode amplify float32 rounding to 4e-2 in PyTorch's own gradients), and its input
is the first randn(2, 3, 64, 64) by seed on which PyTorch float32, with oneDNN and with native
convolutions, is within COND_MAX of float64 on every sampled gradient (conditioned_input): a
ReLU input within float32 rounding of zero otherwise moves whole gradient tensors by 1e-2.
Every network's worst float32 error is printed.

resnet20_real: the published CIFAR-10 ResNet-20 (../shared/weights/resnet20-12fca82f.th) on
four images made here (smooth random colour fields, CIFAR-normalised): x and logits_eval.
"""
import copy
import math
import os
import sys

# PyTorch's float32 runs below (the f32err records, the choice of ResNet-50's input) go
# partly through OpenBLAS, whose kernels differ per CPU type (on this machine it would pick
# SkylakeX/Cooperlake); the committed fixtures were made with its Haswell kernels, so that a
# rerun gives the same bytes. The float64 references do not depend on it (1e-14).
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import numpy as np  # noqa: E402  (after OPENBLAS_CORETYPE)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
SEED = 2024
NSAMPLE = 256
# A fixture is well-conditioned when PyTorch's float32, with either CPU convolution back-end
# (oneDNN, or the native im2col + BLAS), is this close to float64 on every sampled gradient
# (relative L2) of every configuration: 20x inside the C test's 1e-3.
COND_MAX = 5e-5


def fnv1a(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001b3) & M64
    return h


def splitmix(key, n):
    """The first n outputs of nn_rng seeded with key (nets/nn_ops.c)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(key) + i * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def gen_spec(name, shape):
    """(scale, offset) of a fixture tensor; the C test has the same rule."""
    if name.endswith("running_mean") or name.endswith("/moving_mean:0"):
        return 0.2, 0.0
    if name.endswith("running_var") or name.endswith("/moving_variance:0"):
        return 0.5, 1.0
    if len(shape) == 4:
        return math.sqrt(6.0 / (shape[1] * shape[2] * shape[3])), 0.0
    if len(shape) == 2:
        return 1.0 / math.sqrt(shape[1]), 0.0
    if name.startswith("fc.") or name.startswith("linear."):
        return 0.1, 0.0
    if name.endswith(".bn3.weight"):  # ResNet-50: each bottleneck's last BN, see the docstring
        return 0.05, 0.1
    if name.endswith(".weight") or name.endswith("/gamma:0"):
        return 0.5, 1.0
    return 0.2, 0.0


def gen_tensor(name, shape, spec=None):
    n = int(np.prod(shape))
    u = (splitmix(fnv1a(name) ^ SEED, n) >> np.uint64(40)).astype(np.float32) * np.float32(
        1.0 / 16777216.0)
    scale, off = spec if spec else gen_spec(name, shape)
    v = (np.float32(2.0) * u - np.float32(1.0)) * np.float32(scale)
    if off != 0.0:
        v = v + np.float32(off)
    return v.astype(np.float32).reshape(shape)


def sample_positions(name, numel, nsample=NSAMPLE):
    if numel <= nsample:
        return np.arange(numel)
    return (splitmix(fnv1a(name) ^ 0x5EED, nsample) % np.uint64(numel)).astype(np.int64)


# ---- akamaster/pytorch_resnet_cifar10 resnet.py (option A), as published


class LambdaLayer(nn.Module):
    def __init__(self, lambd):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return self.lambd(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(
                x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks[0], 1)
        self.layer2 = self._make_layer(32, num_blocks[1], 2)
        self.layer3 = self._make_layer(64, num_blocks[2], 2)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


# ---- Keras MobileNet v1 (keras.applications.mobilenet 2.x) in PyTorch, for gradients


def tf_same_pad(x, k, s):
    """TensorFlow "same" padding: total max((ceil(n/s)-1)*s + k - n, 0), the extra row and
    column at the bottom/right."""
    def tot(n):
        return max((-(-n // s) - 1) * s + k - n, 0)
    th, tw = tot(x.shape[2]), tot(x.shape[3])
    return F.pad(x, (tw // 2, tw - tw // 2, th // 2, th - th // 2))


class KerasDwBlock(nn.Module):
    def __init__(self, c, oc, stride):
        super().__init__()
        self.stride = stride
        self.dw = nn.Conv2d(c, c, 3, stride, 0, groups=c, bias=False)
        self.dw_bn = nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
        self.pw = nn.Conv2d(c, oc, 1, bias=False)
        self.pw_bn = nn.BatchNorm2d(oc, eps=1e-3, momentum=0.01)

    def forward(self, x):
        # stride 2: ZeroPadding2D(((0, 1), (0, 1))) + "valid"; stride 1: "same" (1 each side)
        x = F.pad(x, (0, 1, 0, 1)) if self.stride == 2 else tf_same_pad(x, 3, 1)
        x = torch.clamp(self.dw_bn(self.dw(x)), 0.0, 6.0)
        return torch.clamp(self.pw_bn(self.pw(x)), 0.0, 6.0)


class KerasMobileNetV1(nn.Module):
    """MobileNet v1 as Keras builds it, as nets/nn_mobilenet.c does: conv1 (3x3/2, "same"),
    13 depthwise-separable blocks (stride-2 blocks pad bottom/right then "valid"), BN eps 1e-3
    and Keras momentum 0.99 (PyTorch momentum 0.01), ReLU6, global average pooling, dropout
    (p = 0 here: the engine and PyTorch cannot share dropout masks), conv_preds (1x1, bias).
    Parameters are OIHW as in the engine; home_name() gives their Keras names."""
    PW = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
    ST = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)

    def __init__(self, alpha, num_classes):
        super().__init__()
        c = int(32 * alpha)
        self.conv1 = nn.Conv2d(3, c, 3, 2, 0, bias=False)
        self.conv1_bn = nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
        for b in range(1, 14):
            oc = int(self.PW[b - 1] * alpha)
            setattr(self, f"block{b}", KerasDwBlock(c, oc, self.ST[b - 1]))
            c = oc
        self.conv_preds = nn.Conv2d(c, num_classes, 1, bias=True)

    def forward(self, x):
        x = torch.clamp(self.conv1_bn(self.conv1(tf_same_pad(x, 3, 2))), 0.0, 6.0)
        for b in range(1, 14):
            x = getattr(self, f"block{b}")(x)
        x = x.mean(dim=(2, 3), keepdim=True)
        return self.conv_preds(x).flatten(1)

    @staticmethod
    def home_name(k):
        bn = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
              "running_var": "moving_variance"}
        mod, _, w = k.rpartition(".")
        if mod.startswith("block"):
            b, part = mod[len("block"):].split(".")
            layer = {"dw": f"conv_dw_{b}", "dw_bn": f"conv_dw_{b}_bn", "pw": f"conv_pw_{b}",
                     "pw_bn": f"conv_pw_{b}_bn"}[part]
        else:
            layer = mod
        if layer.endswith("_bn"):
            return f"{layer}/{bn[w]}:0"
        if w == "bias":
            return f"{layer}/bias:0"
        return f"{layer}/{'depthwise_kernel' if layer.startswith('conv_dw') else 'kernel'}:0"


def home_name(model, k):
    f = getattr(model, "home_name", None)
    return f(k) if f else k


# ---- writing


class Writer:
    def __init__(self, name):
        self.name = name
        self.index = []
        self.chunks = []
        self.worst32 = 0.0  # run_config: PyTorch float32's largest gradient error

    def add(self, key, arr):
        a = np.ascontiguousarray(np.asarray(arr, dtype="<f4").ravel())
        self.index.append(f"{key} {a.size}")
        self.chunks.append(a.tobytes())

    def close(self):
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, self.name + ".bin"), "wb") as f:
            for c in self.chunks:
                f.write(c)
        with open(os.path.join(OUT, self.name + ".txt"), "w") as f:
            f.write("\n".join(self.index) + "\n")


def load_generated(model):
    sd = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            sd[k] = v
        else:
            sd[k] = torch.from_numpy(gen_tensor(home_name(model, k), tuple(v.shape)))
    model.load_state_dict(sd)


def stage_modules(model, last):
    head = next(h for h in ("fc", "linear", "conv_preds") if hasattr(model, h))
    return [getattr(model, last), getattr(model, head)]


def run_config_once(model, x, y, last, unfreeze, bn):
    """One training forward + backward; returns loss, logits, grads, changed BN stats."""
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = list(model.modules()) if unfreeze == "all" else []
    model.eval()
    for p in model.parameters():
        p.requires_grad_(unfreeze == "all")
        p.grad = None
    if unfreeze == "last":
        for m in stage_modules(model, last):
            for p in m.parameters():
                p.requires_grad_(True)
            trainable += list(m.modules())
    if bn == "train":
        for m in trainable:
            if isinstance(m, nn.BatchNorm2d):
                m.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = {home_name(model, k): p.grad.detach().double().numpy().ravel().copy()
             for k, p in model.named_parameters() if p.requires_grad}
    stats = {}
    for k, v in model.state_dict().items():
        if (k.endswith("running_mean") or k.endswith("running_var")) and not torch.equal(
                v, fresh[k]):
            stats[home_name(model, k)] = v.double().numpy().ravel().copy()
    model.load_state_dict(fresh)
    return loss.item(), logits.detach().double().numpy(), grads, stats


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def float32_worst(model, x, y, last, unfreeze, bn, grads, nsample):
    """The largest relative L2 error (sampled positions) of PyTorch's float32 gradients
    against the float64 ones, over both CPU convolution back-ends; and its tensor."""
    worst, where = 0.0, ""
    for onednn in (True, False):
        torch.backends.mkldnn.enabled = onednn
        try:
            _, _, g32, _ = run_config_once(model, x, y, last, unfreeze, bn)
        finally:
            torch.backends.mkldnn.enabled = True
        for k, g in grads.items():
            pos = sample_positions(k, g.size, nsample)
            e = rel_l2(g32[k][pos], g[pos])
            if e > worst:
                worst, where = e, f"{k} ({'oneDNN' if onednn else 'native'})"
    return worst, where


CONFIGS = [(u, b) for u in ("all", "last") for b in ("frozen", "train")]


def conditioned_input(model, shape, classes, last, nsample=NSAMPLE):
    """The first of the inputs randn(shape) from generators seeded 0, 1, 2, ... on which
    every configuration is well-conditioned (COND_MAX); returns it and its seed. A ReLU
    input or a max-pooling runner-up within float32's rounding of its kink makes a float32
    run take the other branch than float64 now and then; where a BN channel has few values
    that moves whole gradient tensors by 1e-3..1e-2 (docs/engine-checks.md)."""
    y = torch.arange(shape[0]) % classes
    for seed in range(64):
        x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        worst = []
        for unfreeze, bn in CONFIGS:
            m64 = copy.deepcopy(model).double()
            _, _, grads, _ = run_config_once(m64, x.double(), y, last, unfreeze, bn)
            worst.append(float32_worst(model, x, y, last, unfreeze, bn, grads, nsample))
        e, where = max(worst)
        print(f"input seed {seed}: PyTorch float32 within {e:.1e} of float64 ({where})",
              file=sys.stderr)
        if e <= COND_MAX:
            return x, seed
    raise SystemExit(f"no well-conditioned input among 64 for {shape}")


def run_config(model, x, y, last, unfreeze, bn, w, cfg, nsample):
    """References from a float64 copy of the model; PyTorch's own float32 error against
    them is stored too (<cfg>:f32err:<param>, oneDNN back-end), for the C test's messages."""
    m64 = copy.deepcopy(model).double()
    loss, logits, grads, stats = run_config_once(m64, x.double(), y, last, unfreeze, bn)
    _, logits32, grads32, _ = run_config_once(model, x, y, last, unfreeze, bn)
    e, where = float32_worst(model, x, y, last, unfreeze, bn, grads, nsample)
    print(f"{w.name} {cfg}: PyTorch float32 within {e:.1e} of float64 ({where})",
          file=sys.stderr)
    w.worst32 = max(w.worst32, e)
    w.add(f"{cfg}:loss", [loss])
    w.add(f"{cfg}:logits", logits)
    w.add(f"{cfg}:f32err_logits", [float(np.abs(logits32 - logits).max() / np.abs(logits).max())])
    for k, g in grads.items():
        pos = sample_positions(k, g.size, nsample)
        w.add(f"{cfg}:grad:{k}", g[pos])
        w.add(f"{cfg}:gradnorm:{k}", [float(np.linalg.norm(g))])
        w.add(f"{cfg}:f32err:{k}", [rel_l2(grads32[k][pos], g[pos])])
    for k, v in stats.items():
        w.add(f"{cfg}:stat:{k}", v[sample_positions(k, v.size, nsample)])


def make(name, model, x, classes, last, one_channel=None, nsample=NSAMPLE, x_generated=False):
    torch.manual_seed(0)
    load_generated(model)
    y = torch.arange(x.shape[0]) % classes
    w = Writer(name)
    n, c, h, wd = x.shape
    # a sample count other than 256 goes into meta (6th value) to keep the fixture small
    w.add("meta", [n, c, h, wd, classes] + ([nsample] if nsample != NSAMPLE else []))
    if x_generated:  # not stored: uniform in [-1, 1) from the hash, named "input"
        assert torch.equal(x, torch.from_numpy(gen_tensor("input", tuple(x.shape), (1.0, 0.0))))
    else:
        w.add("x", x.numpy())
    w.add("labels", y.numpy())
    model.eval()
    with torch.no_grad():
        w.add("logits_eval", copy.deepcopy(model).double()(x.double()).numpy())
    for unfreeze, bn in CONFIGS:
        run_config(model, x, y, last, unfreeze, bn, w, f"{unfreeze}_{bn}", nsample)
    if one_channel is not None:
        # one-channel input: conv1 summed over its input channels
        x1 = one_channel
        with torch.no_grad():
            wsum = model.conv1.weight.sum(dim=1, keepdim=True)
            conv = nn.Conv2d(1, wsum.shape[0], 7, 2, 3, bias=False)
            conv.weight.copy_(wsum)
            model.conv1 = conv
            model.eval()
            w.add("x1", x1.numpy())
            w.add("logits1_eval", copy.deepcopy(model).double()(x1.double()).numpy())
    w.close()


def make_real_resnet20():
    path = os.path.join(HERE, "..", "..", "..", "shared", "weights", "resnet20-12fca82f.th")
    ck = torch.load(path, map_location="cpu")
    sd = {k[len("module."):]: v for k, v in ck["state_dict"].items()}
    model = CifarResNet([3, 3, 3])
    model.load_state_dict(sd)
    model.eval()
    # Four 32x32 RGB images: smooth random colour fields in [0, 1] (4x4 noise upsampled
    # bilinearly), normalised with the CIFAR mean/std the model was trained with.
    g = torch.Generator().manual_seed(5)
    img = F.interpolate(torch.rand(4, 3, 4, 4, generator=g), size=(32, 32), mode="bilinear",
                        align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (img - mean) / std
    w = Writer("resnet20_real")
    w.add("meta", [4, 3, 32, 32, 10])
    w.add("x", x.numpy())
    with torch.no_grad():
        w.add("logits_eval", model(x).numpy())
    w.close()


def mobilenet_numpy(wts, x, alpha=0.25):
    """An independent float64 NumPy forward of Keras' MobileNet v1 (NHWC, TF padding)."""
    def bn(h, name):
        g, b = wts[name + "/gamma:0"], wts[name + "/beta:0"]
        m, v = wts[name + "/moving_mean:0"], wts[name + "/moving_variance:0"]
        return (h - m) / np.sqrt(v + 1e-3) * g + b

    def conv(h, k, stride, depthwise=False):
        kh, kw = k.shape[:2]
        n, hh, ww, _ = h.shape
        oh, ow = (hh - kh) // stride + 1, (ww - kw) // stride + 1
        out = 0
        for i in range(kh):
            for j in range(kw):
                patch = h[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride, :]
                out = out + (patch * k[i, j, :, 0] if depthwise else patch @ k[i, j])
        return out

    def same_pad(h, k, s):
        def tot(n):
            return max((-(-n // s) - 1) * s + k - n, 0)
        th, tw = tot(h.shape[1]), tot(h.shape[2])
        return np.pad(h, ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)))

    relu6 = lambda h: np.clip(h, 0.0, 6.0)
    h = x.transpose(0, 2, 3, 1).astype(np.float64)
    h = relu6(bn(conv(same_pad(h, 3, 2), wts["conv1/kernel:0"], 2), "conv1_bn"))
    for b in range(1, 14):
        s = 2 if b in (2, 4, 6, 12) else 1
        h = np.pad(h, ((0, 0), (0, 1), (0, 1), (0, 0))) if s == 2 else same_pad(h, 3, 1)
        h = relu6(bn(conv(h, wts[f"conv_dw_{b}/depthwise_kernel:0"], s, True), f"conv_dw_{b}_bn"))
        h = relu6(bn(conv(h, wts[f"conv_pw_{b}/kernel:0"], 1), f"conv_pw_{b}_bn"))
    h = h.mean(axis=(1, 2))
    return h @ wts["conv_preds/kernel:0"][0, 0] + wts["conv_preds/bias:0"]


def make_mobilenet():
    """mobilenet_v1_0.25_224.h5 (Keras, ImageNet): NumPy logits on two batches, 2x96x80 (even:
    stride-2 "same" pads bottom/right) and 1x65x71 (odd). The C test reads the weights from
    ../shared/weights itself (io_h5); they are not copied here."""
    import h5py
    path = os.path.join(HERE, "..", "..", "..", "shared", "weights", "mobilenet_v1_0.25_224.h5")
    wts = {}
    with h5py.File(path, "r") as f:
        mw = f["model_weights"]
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                wts[name.split("/", 1)[1]] = np.array(obj, dtype=np.float64)
        mw.visititems(visit)
    w = Writer("mobilenet_v1")
    g = torch.Generator().manual_seed(9)
    for i, (n, h, wd) in enumerate(((2, 96, 80), (1, 65, 71))):
        x = (torch.rand(n, 3, h, wd, generator=g) * 2 - 1).numpy()
        w.add(f"x{i}", x)
        w.add(f"meta{i}", [n, 3, h, wd, 1000])
        w.add(f"logits{i}", mobilenet_numpy(wts, x))
        check_keras_mobilenet(wts, x)
    w.close()


def check_keras_mobilenet(wts, x):
    """The PyTorch KerasMobileNetV1 (the gradient reference) with the .h5 weights gives the
    NumPy forward's logits: the two implementations are independent, so the gradient fixture's
    model is the architecture the NumPy check pins down."""
    m = KerasMobileNetV1(0.25, 1000).double().eval()
    sd = {}
    for k, v in m.state_dict().items():
        if k.endswith("num_batches_tracked"):
            sd[k] = v
            continue
        a = wts[home_name(m, k)[:-len(":0")] + ":0"]
        if a.ndim == 4:  # HWIO -> OIHW; depthwise [KH, KW, C, 1] -> [C, 1, KH, KW]
            a = a.transpose(2, 3, 0, 1) if "depthwise" in home_name(m, k) else a.transpose(3, 2, 0, 1)
        sd[k] = torch.from_numpy(np.ascontiguousarray(a)).reshape(v.shape)
    m.load_state_dict(sd)
    with torch.no_grad():
        ours = m(torch.from_numpy(x).double()).numpy()
    ref = mobilenet_numpy(wts, x)
    err = np.abs(ours - ref).max() / np.abs(ref).max()
    assert err < 1e-10, f"KerasMobileNetV1 vs NumPy forward: {err:.2e}"
    print(f"KerasMobileNetV1 (PyTorch) vs NumPy forward on {x.shape}: {err:.1e}", file=sys.stderr)


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    make("resnet20", CifarResNet([3, 3, 3], 10), torch.randn(2, 3, 32, 32, generator=g), 10,
         "layer3")
    make("resnet18", torchvision.models.resnet18(num_classes=5),
         torch.randn(2, 3, 64, 64, generator=g), 5, "layer4",
         one_channel=torch.randn(2, 1, 64, 48, generator=g))
    # ResNet-50: generated weights with each bottleneck's last BN weight in [0.05, 0.15]
    # (gen_spec) and an input that conditioned_input accepts; see the docstring
    r50 = torchvision.models.resnet50(num_classes=3)
    load_generated(r50)
    x50, seed = conditioned_input(r50, (2, 3, 64, 64), 3, "layer4")
    print(f"resnet50: input from seed {seed}", file=sys.stderr)
    make("resnet50", r50, x50, 3, "layer4")
    make("mobilenet_v1_grad", KerasMobileNetV1(0.25, 5),
         torch.from_numpy(gen_tensor("input", (2, 3, 67, 54), (1.0, 0.0))), 5, "block13",
         nsample=64, x_generated=True)
    make_real_resnet20()
    make_mobilenet()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT}: {total / 1e6:.2f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
