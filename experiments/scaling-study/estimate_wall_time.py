"""Estimates the wall time of the scaling study's pending runs from the throughput its finished runs measured.

Usage: python3 estimate_wall_time.py PLAN.txt runs.jsonl sweep.log [workers]
  PLAN.txt:   the output of `./archlab sweep plan experiments/scaling-study/spec.json`
  runs.jsonl: finished runs (compute, wall_seconds = the trainer's own clock, flops_per_token)
  sweep.log:  the `sweep run` log ("<id>: done in N s"): per-run time including process start and data loading

Throughput (training FLOPs per second of a run's own clock) is fitted as a power of FLOPs per token, per architecture,
over the finished runs (log-log least squares), and each pending run is predicted as compute / throughput + the median
per-run overhead (log time minus trainer time). Larger models than any finished run are extrapolated; the measured runs
ran at nice 19 on a shared 2-core machine, so the estimate holds for that load only.
The runs' own clocks also count any time the sweep was stopped (SIGSTOP while benchmarks were timed), and earlier runs
ran on other machines. So the runs the log timed whole are set against their prediction, per architecture, and the
estimate is given again at that pace (the median over all of them for an architecture the log has not timed yet).
"""
import json, math, re, sys, statistics
from collections import defaultdict

plan_path, runs_path, log_path = sys.argv[1:4]
workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2

runs = [json.loads(l) for l in open(runs_path) if l.strip()]
done = {r["id"] for r in runs}
done_wall = {r["id"]: r["wall_seconds"] for r in runs}
plan = []
for line in open(plan_path):
    parts = line.split()
    if len(parts) >= 7 and re.match(r"^[\w-]+-d\d+-l\d+-[ct]", parts[0]):
        plan.append(dict(id=parts[0], n=int(parts[1].replace(",", "")), fpt=int(parts[2].replace(",", "")),
                         compute=float(parts[6]), arch=re.sub(r"-d\d+-l\d+-.*$", "", parts[0])))

logged = {}
for line in open(log_path):
    m = re.search(r"\] (\S+): done in (\d+) s", line)
    if m: logged[m.group(1)] = float(m.group(2))
overheads = [logged[r["id"]] - r["wall_seconds"] for r in runs if r["id"] in logged]
overhead = statistics.median(overheads) if overheads else 0.0

def line_fit(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    return my - slope * mx, slope

by_arch = defaultdict(list)
for r in runs:
    by_arch[r["arch"]].append((math.log(r["flops_per_token"]), math.log(r["compute"] / r["wall_seconds"])))
fits = {a: line_fit([p[0] for p in pts], [p[1] for p in pts]) for a, pts in by_arch.items()}
everything = [p for pts in by_arch.values() for p in pts]
pooled = line_fit([p[0] for p in everything], [p[1] for p in everything])

print(f"{len(runs)} finished runs; median per-run overhead (process start, data, eval, checkpoints outside the trainer clock): {overhead:.0f} s")
for a, (c0, c1) in sorted(fits.items()):
    pts = by_arch[a]
    print(f"  {a:20} {len(pts):3} runs: throughput = {math.exp(c0):.3g} * (FLOPs/token)^{c1:.2f} FLOP/s; "
          f"measured {min(math.exp(p[1]) for p in pts)/1e9:.2f}-{max(math.exp(p[1]) for p in pts)/1e9:.2f} GFLOP/s")
pending = [p for p in plan if p["id"] not in done]
max_measured = {a: max(p[0] for p in pts) for a, pts in by_arch.items()}

def predicted(p):
    c0, c1 = fits.get(p["arch"], pooled)
    # never extrapolate throughput beyond the largest model measured (bigger matmuls are faster; that is optimistic otherwise)
    lf = min(math.log(p["fpt"]), max_measured.get(p["arch"], math.log(p["fpt"])))
    return p["compute"] / math.exp(c0 + c1 * lf) + overhead

# Calibration: the runs this log timed from start to end against what the model predicts for them. The model is fitted
# to every run's own clock, which counts any time a run was stopped (SIGSTOP while benchmarks were timed) and the machine
# of earlier sessions; the log tells the present pace. A run resumed from a checkpoint logs only its last part, shorter
# than its own clock (which adds the parts): it is left out.
by_id = {p["id"]: p for p in plan}
pairs = defaultdict(list)  # arch -> [(logged, predicted)]
for i in logged:
    if i in by_id and i in done and logged[i] >= done_wall[i]:
        pairs[by_id[i]["arch"]].append((logged[i], predicted(by_id[i])))
everyone = [q for v in pairs.values() for q in v]
factor_all = statistics.median(a / b for a, b in everyone) if everyone else 1.0
factor = {a: statistics.median(x / y for x, y in v) for a, v in pairs.items()}
by_budget = defaultdict(float)
total = calibrated = 0.0
for p in pending:
    seconds = predicted(p)
    by_budget[float(re.search(r"-c([0-9.e]+)", p["id"]).group(1))] += seconds
    total += seconds
    calibrated += seconds * factor.get(p["arch"], factor_all)
print(f"{len(pending)} of {len(plan)} planned runs pending: about {total/3600:.0f} h of run time, "
      f"{total/3600/workers:.0f} h wall with {workers} workers at the measured load")
for b, s in sorted(by_budget.items()):
    print(f"  budget {b:.0e}: {s/3600:.1f} h of run time")
if everyone:
    print(f"this log's {len(everyone)} whole runs took {factor_all:.2f}x the predicted time (median), per architecture: " +
          ", ".join(f"{a} {f:.2f}x ({len(pairs[a])})" for a, f in sorted(factor.items())) +
          f"; at those paces (the overall median for the others) about {calibrated / 3600:.0f} h of run time, "
          f"{calibrated / 3600 / workers:.0f} h wall with {workers} workers")
