#!/usr/bin/python3
"""bench_torch.py — the PyTorch CPU side of bench/run.sh: the same rows as bench_nets.c.

Prints one tab-separated line per row (see ROW_FIELDS) on stdout, nothing else there;
GFLOP/s and the engine's memory are "-" here (run.sh uses the C side's FLOP count for both).
Max RSS is the process's peak so far; rows run in order of growing memory.
Run it with Debian's interpreter (/usr/bin/python3, where python3-torch is installed).

    bench_torch.py --threads 2 --config resnet18:3x224 [--quick]
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


def timed(fn, min_time, max_reps):
    """Warm up once, then repeat until min_time seconds or max_reps; best time and reps."""
    fn()
    best, total, reps = float("inf"), 0.0, 0
    while reps < max_reps and (reps == 0 or total < min_time):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best, reps


def make_model(arch, in_ch, classes):
    m = getattr(torchvision.models, arch)(weights=None, num_classes=classes)
    if in_ch != 3:
        m.conv1 = torch.nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
    return m


def set_trainable(m, spec):
    """spec: all | layer4 | none (head only). Frozen modules in eval mode (BN running stats)."""
    for p in m.parameters():
        p.requires_grad_(spec == "all")
    if spec == "all":
        m.train()
        return
    m.eval()
    mods = [m.fc] + ([m.layer4] if spec == "layer4" else [])
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
    in_ch, size = (int(v) for v in shape.split("x"))
    min_time, max_reps = (0.0, 1) if a.quick else (2.0, 3)

    model = make_model(arch, in_ch, a.classes)
    rows = a.rows.split(",")
    for row in rows:
        torch.manual_seed(1)
        n = 1 if row == "fwd1" else a.batch
        x = torch.randn(n, in_ch, size, size)
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
            "torch", arch, "%dx%dx%d" % (in_ch, size, size), row, n, "%.3f" % (n / best),
            "-", "-", "%.0f" % maxrss_mb(), reps)))
        sys.stdout.flush()
        if row not in ("fwd1", "fwd"):
            del opt, params
            model.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
