#!/usr/bin/python3
"""table.py — joins the rows of bench_nets and bench_torch (tab-separated, from run.sh) into
the Markdown table of docs/performance.md. Reads the results file named on the command line."""
import sys

MODES = {"fwd1": "forward", "fwd": "forward", "head": "train head", "layer4": "train last stage",
         "all": "train all"}


def main():
    rows, peak, core = {}, None, "?"
    order = []
    loads = {}  # (model, input) -> {"ours": load, "torch": load} (1-min load average before)
    for line in open(sys.argv[1]):
        f = line.rstrip("\n").split("\t")
        if len(f) == 4 and f[0] == "load":
            arch, shape = f[1].split(":")
            dims = shape.split("x")
            key = (arch, "%sx%sx%s" % (dims[0], dims[1], dims[-1]))
            loads.setdefault(key, {})[f[2]] = f[3]
            continue
        if len(f) != 10:
            continue
        if f[0] == "peak":
            peak, core = float(f[6]), f[2]
            continue
        key = (f[1], f[2], f[3], f[4])
        if key not in rows:
            rows[key] = {}
            order.append(key)
        rows[key][f[0]] = f
    print("sgemm peak (2048^3, OpenBLAS %s kernels, same threads): %s GFLOP/s\n"
          % (core, "%.1f" % peak if peak else "?"))
    print("| model | input | step | batch | ours img/s | PyTorch img/s | ours/PyTorch "
          "| ours GFLOP/s | of sgemm peak | ours arena+params MB | ours max RSS MB "
          "| PyTorch max RSS MB | load ours / PyTorch |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key in order:
        o, t = rows[key].get("ours"), rows[key].get("torch")
        ours = float(o[5]) if o else None
        torch = float(t[5]) if t else None
        ratio = "%.2f" % (ours / torch) if ours and torch else "-"
        gf = float(o[6]) if o else None
        frac = "%.0f%%" % (100 * gf / peak) if gf and peak else "-"
        ld = loads.get((key[0], key[1]), {})
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            key[0], key[1], MODES.get(key[2], key[2]), key[3],
            "%.1f" % ours if ours else "-", "%.1f" % torch if torch else "-", ratio,
            "%.0f" % gf if gf else "-", frac, o[7] if o else "-", o[8] if o else "-",
            t[8] if t else "-", "%s / %s" % (ld.get("ours", "?"), ld.get("torch", "?"))))


if __name__ == "__main__":
    main()
