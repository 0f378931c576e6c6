"""Markdown status and loss tables of the scaling study, for its README.

Usage: python3 summarize.py PLAN.txt runs.jsonl
  PLAN.txt: the output of `./archlab sweep plan experiments/scaling-study/spec.json` (lists every planned run)
Prints, per budget and architecture, finished / planned runs (seeds counted), the machines that finished them, then per
architecture a table of final validation losses (mean over seeds where there are several; bold: lowest per budget) for the budgets with any result,
and last the spread of final losses across seeds where a size has run with several.
"""
import json, re, statistics, sys
from collections import defaultdict

plan_path, runs_path = sys.argv[1:3]
ids = re.compile(r"^(?P<arch>[\w-]+?)-d(?P<d>\d+)-l(?P<l>\d+)-c(?P<c>[0-9.e]+)(?:-s(?P<s>\d+))?$")
planned = defaultdict(list)
for line in open(plan_path):
    parts = line.split()
    if parts and (m := ids.match(parts[0])):
        planned[(float(m["c"]), m["arch"])].append(parts[0])
runs = [json.loads(l) for l in open(runs_path) if l.strip()]
done = {r["id"]: r for r in runs}
archs = list(dict.fromkeys(a for _, a in sorted(planned, key=lambda k: list(planned).index(k))))
budgets = sorted({c for c, _ in planned})

print("| budget | " + " | ".join(archs) + " | complete |")
print("|---|" + "---|" * (len(archs) + 1))
for c in budgets:
    cells, complete = [], True
    for a in archs:
        p = planned.get((c, a), [])
        k = sum(i in done for i in p)
        complete &= k == len(p)
        cells.append(f"{k}/{len(p)}")
    print(f"| {c:.0e} | " + " | ".join(cells) + f" | {'yes' if complete else 'no'} |")
print()
machines = defaultdict(int)
for r in runs: machines[r.get("finished_on") or "not recorded (runs finished before the field was added)"] += 1
print("Machines that finished the runs (`finished_on`; their `wall_seconds` are on that machine's clock):\n")
for m, k in sorted(machines.items(), key=lambda kv: -kv[1]): print(f"- {m}: {k}")
print()

for a in archs:
    mine = [r for r in runs if r["arch"] == a and r.get("compute_budget")]
    if not mine: continue
    shapes = sorted({(r["non_embedding_params"], r["model"]["dim"], r["model"]["layers"]) for r in mine})
    bs = sorted({r["compute_budget"] for r in mine})
    loss = defaultdict(list)
    for r in mine: loss[(r["non_embedding_params"], r["compute_budget"])].append(r["final_val_loss"])
    best = {b: min((sum(v) / len(v), n) for (n, bb), v in loss.items() if bb == b)[1] for b in bs}
    print(f"**{a}** final validation loss (nats/token; mean of seeds where several, their count in brackets)\n")
    print("| shape | non-embedding N | " + " | ".join(f"{b:.0e}" for b in bs) + " |")
    print("|---|---|" + "---|" * len(bs))
    for n, d, l in shapes:
        row = []
        for b in bs:
            v = loss.get((n, b))
            if not v: row.append("–"); continue
            text = f"{sum(v) / len(v):.3f}" + (f" ({len(v)})" if len(v) > 1 else "")
            row.append(f"**{text}**" if best[b] == n else text)
        print(f"| d{d}×{l} | {n:,} | " + " | ".join(row) + " |")
    print()

spread = defaultdict(list)
for a in archs:
    losses = defaultdict(list)
    for r in runs:
        if r["arch"] == a and r.get("compute_budget"): losses[(r["compute_budget"], r["model"]["dim"], r["model"]["layers"])].append(r["final_val_loss"])
    for (c, d, l), v in losses.items():
        if len(v) >= 2: spread[(a, c)].append((statistics.stdev(v), max(v) - min(v), f"d{d}×{l}", len(v)))
if spread:
    print("Spread of the final validation loss across seeds (sizes with several seeds; nats/token): the noise a single run carries\n")
    print("| arch | budget | sizes | mean standard deviation | largest max − min (size) |")
    print("|---|---|---|---|---|")
    for (a, c), v in sorted(spread.items(), key=lambda kv: (kv[0][1], archs.index(kv[0][0]))):
        widest = max(v, key=lambda x: x[1])
        print(f"| {a} | {c:.0e} | {len(v)} | {statistics.mean(x[0] for x in v):.4f} | {widest[1]:.4f} ({widest[2]}) |")
    print()
