#!/usr/bin/env python3
"""TorchSharp step / lean step per architecture and weight format over several runs of `bench decode`.

usage: python3 ratios.py RUN.csv [RUN.csv ...]

Each CSV is one run of `./archlab bench decode --engine lean torch --weights fp32 bf16 int8 --threads 1 ...` (one
position). For each architecture it prints the range of TorchSharp's median step over the runs, and for each lean
weight format the ratio (TorchSharp median / lean median of the same run) as min–median–max over the runs, how many
runs reach 15× (issue 13's goal), and the lean step's median over the runs.
"""
import csv
import statistics
import sys


def load(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(line for line in f if not line.startswith('#')):
            fmt = r['weights'] if r['engine'] == 'lean' else 'torch'
            rows[(r['arch'], fmt)] = float(r['ms_per_step_median'])
    return rows


def main(paths):
    if not paths:
        sys.exit(__doc__)
    runs = [load(p) for p in paths]
    archs = list(dict.fromkeys(arch for arch, _ in runs[0]))
    print(f"{len(runs)} runs; × = TorchSharp step / lean step in the same run: min–median–max (runs at 15× or more; lean median ms)")
    print("| arch | TorchSharp ms | fp32 × | bf16 × | int8 × |")
    print("|---|---|---|---|---|")
    for arch in archs:
        torch = [r[(arch, 'torch')] for r in runs]
        cells = []
        for fmt in ('fp32', 'bf16', 'int8'):
            ratios = [r[(arch, 'torch')] / r[(arch, fmt)] for r in runs]
            lean = statistics.median(r[(arch, fmt)] for r in runs)
            cells.append(f"{min(ratios):.1f}–{statistics.median(ratios):.1f}–{max(ratios):.1f} "
                         f"({sum(x >= 15 for x in ratios)}/{len(ratios)}; {lean:.3f})")
        print(f"| {arch} | {min(torch):.2f}–{max(torch):.2f} | " + " | ".join(cells) + " |")


if __name__ == '__main__':
    main(sys.argv[1:])
