#!/usr/bin/python3
"""bench_torch.py — the PyTorch CPU side of bench/run.sh: the same rows as bench_nets.c.

Prints one tab-separated line per row (see ROW_FIELDS) on stdout, nothing else there;
GFLOP/s and the engine's memory are "-" here (run.sh uses the C side's FLOP count for both).
Max RSS is the process's peak so far; rows run in order of growing memory.
Run it with Debian's interpreter (/usr/bin/python3, where python3-torch is installed).

    bench_torch.py --threads 2 --config resnet18:3x224 [--quick]
    bench_torch.py --threads 2 --config mobilenet_v1@0.25:1x224   (ARCH[@WIDTH]:C x H [x W])

The CIFAR ResNets and MobileNet v1 are written here (torchvision has neither), layer for layer
as the engine builds them (nets/nn_resnet.c, nets/nn_mobilenet.c).
"""
import argparse
import resource
import sys
import time

import torch
import torchvision

ROW_FIELDS = "who model input mode batch img_s gflops mem_mb maxrss_mb reps"


def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# Warm-up time of each row (both sides, bench_nets.c's WARM_S): a process's first ~0.1 s runs
# beside the spin of OpenBLAS's own idle thread (its THREAD_TIMEOUT), which took the second
# core from the small rows (ResNet-20 at 32x32: 2 threads timed as fast as 1).
WARM_S = 0.3


def timed(fn, min_time, max_reps):
    """Warm up (once, and for at least WARM_S), then repeat until min_time seconds or max_reps;
    best time and reps."""
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < WARM_S:
        fn()
    best, total, reps = float("inf"), 0.0, 0
    while reps < max_reps and (reps == 0 or total < min_time):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best, reps


nn = torch.nn


class CifarBlock(nn.Module):
    """akamaster's BasicBlock with option-A shortcuts (x[:, :, ::2, ::2], zero channels)."""

    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if stride != 1 or inp != planes else 0

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.pad:
            sc = nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return torch.relu(out + sc)


class CifarResNet(nn.Module):
    """The CIFAR ResNet-20/32/44/56 of He et al. as in akamaster/pytorch_resnet_cifar10 (the
    engine's resnet20..resnet56): 16-32-64 channels, n blocks per stage."""

    def __init__(self, depth, in_ch, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for s, planes in enumerate((16, 32, 64)):
            blocks = []
            for i in range(n):
                blocks.append(CifarBlock(inp, planes, 2 if i == 0 and s > 0 else 1))
                inp = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, classes)
        self.head, self.last_stage = [self.linear], self.layer3

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class MobileNetV1(nn.Module):
    """Keras' MobileNet v1 (the engine's mobilenet_v1): a 3x3 stride-2 conv, 13 depthwise
    separable blocks (BN, ReLU6), global average pooling, dropout, a 1x1 conv head. Stride-2
    layers pad bottom/right by one as Keras' "same" / ZeroPadding2D((0, 1), (0, 1)) do at
    even sizes."""

    PW = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
    ST = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)

    def __init__(self, in_ch, classes, alpha, dropout=1e-3):
        super().__init__()
        c = int(32 * alpha)
        self.stem = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(in_ch, c, 3, 2, 0, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU6())
        blocks = []
        for pw, st in zip(self.PW, self.ST):
            oc = int(pw * alpha)
            pad = [nn.ZeroPad2d((0, 1, 0, 1))] if st == 2 else []
            blocks.append(nn.Sequential(*pad, nn.Conv2d(c, c, 3, st, 1 if st == 1 else 0, groups=c, bias=False),
                                        nn.BatchNorm2d(c), nn.ReLU6(),
                                        nn.Conv2d(c, oc, 1, bias=False), nn.BatchNorm2d(oc), nn.ReLU6()))
            c = oc
        self.blocks = nn.Sequential(*blocks)
        self.drop = nn.Dropout(dropout)
        self.preds = nn.Conv2d(c, classes, 1)
        self.head, self.last_stage = [self.preds], self.blocks[-1]

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = self.drop(nn.functional.adaptive_avg_pool2d(x, 1))
        return torch.flatten(self.preds(x), 1)


def make_model(arch, in_ch, classes):
    """arch: a torchvision ResNet, resnet20/32/44/56 (CIFAR) or mobilenet_v1@WIDTH."""
    name, _, width = arch.partition("@")
    if name in ("resnet20", "resnet32", "resnet44", "resnet56"):
        return CifarResNet(int(name[6:]), in_ch, classes)
    if name == "mobilenet_v1":
        return MobileNetV1(in_ch, classes, float(width or 1.0))
    m = getattr(torchvision.models, name)(weights=None, num_classes=classes)
    if in_ch != 3:
        m.conv1 = torch.nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
    m.head, m.last_stage = [m.fc], m.layer4
    return m


def set_trainable(m, spec):
    """spec: all | layer4 (the last stage) | none (head only). Frozen modules in eval mode (BN
    running stats)."""
    for p in m.parameters():
        p.requires_grad_(spec == "all")
    if spec == "all":
        m.train()
        return
    m.eval()
    mods = list(m.head) + ([m.last_stage] if spec == "layer4" else [])
    for mod in mods:
        mod.train()
        for p in mod.parameters():
            p.requires_grad_(True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", required=True, help="arch:CxS, e.g. resnet18:3x224")
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", default="fwd1,fwd,head,layer4,all")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    arch, shape = a.config.split(":")
    dims = [int(v) for v in shape.split("x")]
    in_ch, h, w = dims[0], dims[1], dims[-1]
    min_time, max_reps = (0.0, 1) if a.quick else (2.0, 3)

    model = make_model(arch, in_ch, a.classes)
    rows = a.rows.split(",")
    for row in rows:
        torch.manual_seed(1)
        n = 1 if row == "fwd1" else a.batch
        x = torch.randn(n, in_ch, h, w)
        if row in ("fwd1", "fwd"):
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)

            def step():
                with torch.no_grad():
                    model(x)
        else:
            spec = {"head": "none", "layer4": "layer4", "all": "all"}[row]
            set_trainable(model, spec)
            y = torch.randint(0, a.classes, (n,))
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
            loss_fn = torch.nn.CrossEntropyLoss()

            def step():
                opt.zero_grad(set_to_none=False)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
        best, reps = timed(step, min_time, max_reps)
        print("\t".join(str(v) for v in (
            "torch", arch, "%dx%dx%d" % (in_ch, h, w), row, n, "%.3f" % (n / best),
            "-", "-", "%.0f" % maxrss_mb(), reps)))
        sys.stdout.flush()
        if row not in ("fwd1", "fwd"):
            del opt, params
            model.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
