#!/usr/bin/env python3
"""TorchSharp step / lean step per architecture and weight format over several runs of `bench decode`.

usage: python3 ratios.py RUN.csv [RUN.csv ...]

Each CSV is one run of `./archlab bench decode --engine lean torch --weights fp32 bf16 int8 --threads 1 ...` (one
position). For each architecture it prints the range of TorchSharp's median step over the runs, and for each lean
weight format the ratio (TorchSharp median / lean median of the same run) as min–median–max over the runs, how many
runs reach 15× (issue 13's goal), and the lean step's median over the runs. Where the CSVs have the column
fraction_of_weights_read (bench decode since 2026-12-05), a second table gives it, min–median–max, per engine and format.
"""
import csv
import statistics
import sys


def load(path, column='ms_per_step_median'):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(line for line in f if not line.startswith('#')):
            if column not in r:
                return None
            fmt = r['weights'] if r['engine'] == 'lean' else 'torch'
            rows[(r['arch'], fmt)] = float(r[column])
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

    fractions = [load(p, 'fraction_of_weights_read') for p in paths]
    if all(f is not None for f in fractions):
        print()
        print("Weight bytes read per second over the read rate of a buffer as large as the weights (min–median–max):")
        print("| arch | lean fp32 | lean bf16 | lean int8 | TorchSharp |")
        print("|---|---|---|---|---|")
        for arch in archs:
            cells = []
            for fmt in ('fp32', 'bf16', 'int8', 'torch'):
                v = [f[(arch, fmt)] for f in fractions]
                cells.append(f"{min(v):.2f}–{statistics.median(v):.2f}–{max(v):.2f}")
            print(f"| {arch} | " + " | ".join(cells) + " |")


if __name__ == '__main__':
    main(sys.argv[1:])
