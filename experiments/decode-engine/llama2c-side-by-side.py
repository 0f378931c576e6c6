#!/usr/bin/python3
"""ArchLab's lean engine and llama2.c's run.c on the SAME weights, timed in interleaved rounds.

Writes random-weight checkpoints with llama2.c's own model.py/export.py (through the anchors' make_llama2c_ckpt.py, which
also writes the same weights in the Meta LLaMA layout that ./archlab loads), builds run.c, then for each round and each
(shape, threads) runs llama2.c once and `./archlab bench decode --model` once, one process at a time.

What each side measures:
  llama2.c  its own "achieved tok/s": 256 tokens sampled from BOS (temperature 1, top-p 1 = plain multinomial), timed
            from the second token on; so its mean position is ~128 and it includes the softmax + sampling over the vocab.
  ArchLab   `bench decode` tokens/s of the lean engine, fp32 weights, batch 1, at position 128 (attention costs grow
            linearly with position, so this is the mean cost of a 256-token run); the step only, no sampling.

Env:  LLAMA2C_DIR  an extracted karpathy/llama2.c tree (required; nothing of it is copied here)
      ANCHORS      the folder holding make_llama2c_ckpt.py (default: ../shared/anchors next to the repository)
      WORK         scratch folder for the binary and checkpoints (default: /tmp/llama2c-side-by-side)
      ROUNDS       rounds (default 7)
Usage (from the repository root, with the machine otherwise idle):
  LLAMA2C_DIR=/path/to/llama2.c /usr/bin/python3 experiments/decode-engine/llama2c-side-by-side.py | tee OUT.txt
"""
import csv, io, os, platform, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.environ.get("LLAMA2C_DIR") or sys.exit("set LLAMA2C_DIR to an extracted karpathy/llama2.c tree")
ANCHORS = os.environ.get("ANCHORS", os.path.join(os.path.dirname(ROOT), "shared", "anchors"))
WORK = os.path.abspath(os.environ.get("WORK", "/tmp/llama2c-side-by-side"))
ROUNDS = int(os.environ.get("ROUNDS", "7"))
STEPS = 256
SHAPES = {  # name: (dim, layers, heads, vocab)
    "stories15M shape (d288 L6 H6 V32000)": (288, 6, 6, 32000),
    "small shape (d128 L4 H4 V512)": (128, 4, 4, 512),
}
THREADS = [1, 2]
os.makedirs(WORK, exist_ok=True)

run_bin = os.path.join(WORK, "run_omp")
build = ["gcc", "-Ofast", "-fopenmp", "-march=native", os.path.join(SRC, "run.c"), "-lm", "-o", run_bin]
subprocess.run(build, check=True)

models = {}
for i, (name, (dim, layers, heads, vocab)) in enumerate(SHAPES.items()):
    base = os.path.join(WORK, f"shape{i}")
    if not os.path.exists(base + ".bin"):
        subprocess.run([sys.executable, os.path.join(ANCHORS, "make_llama2c_ckpt.py"), "--dim", str(dim), "--n-layers", str(layers),
                        "--n-heads", str(heads), "--n-kv-heads", str(heads), "--vocab", str(vocab), "--seq-len", str(STEPS),
                        "--multiple-of", "32", "--out", base + ".bin", "--tok-out", base + "_tok.bin", "--meta-out", base + "_meta"],
                       check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, LLAMA2C_DIR=SRC))
    models[name] = (base, len(str(vocab - 1)) + 1)


def llama2c(base, width, threads):
    """One run.c run of 256 tokens; seeds are tried from 42 until a run is not cut short by sampling BOS."""
    for seed in range(42, 142):
        r = subprocess.run([run_bin, base + ".bin", "-z", base + "_tok.bin", "-t", "1.0", "-p", "1.0", "-n", str(STEPS), "-s", str(seed)],
                           capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)), check=True)
        if len(r.stdout.strip()) // width >= STEPS - 1:
            return float(r.stderr.split("achieved tok/s:")[1].split()[0])
    raise RuntimeError("llama2.c stopped early for every seed tried")


cpu_line = ""


def archlab(base, threads):
    global cpu_line
    r = subprocess.run([os.path.join(ROOT, "archlab"), "bench", "decode", "--model", base + "_meta", "--engine", "lean", "--weights", "fp32",
                        "--threads", str(threads), "--positions", "128", "--rounds", "1", "--steps", "64", "--warmup", "16",
                        "--csv", os.path.join(WORK, "archlab.csv")], capture_output=True, text=True, check=True)
    with open(os.path.join(WORK, "archlab.csv")) as f:
        text = f.read()
    cpu_line = next((l for l in text.splitlines() if l.startswith("# cpu:")), cpu_line)
    rows = list(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("#")))))
    return float(rows[0]["tokens_per_s"]), float(rows[0]["copy_GBps"])


subprocess.run([os.path.join(ROOT, "archlab"), "--help"], capture_output=True, check=True)  # builds the CLI before any timing
results = {(n, t): {"llama2.c": [], "archlab": [], "copy": []} for n in SHAPES for t in THREADS}
for rnd in range(ROUNDS):
    for name, (base, width) in models.items():
        for t in THREADS:
            results[name, t]["llama2.c"].append(llama2c(base, width, t))
            tps, copy = archlab(base, t)
            results[name, t]["archlab"].append(tps)
            results[name, t]["copy"].append(copy)
    print(f"round {rnd + 1}/{ROUNDS} done", file=sys.stderr)

print(f"# {platform.node()}: {cpu_line[2:] if cpu_line else '(no cpu line)'}")
print(f"# llama2.c: {' '.join(build[:4])} run.c; ArchLab: ./archlab bench decode --engine lean --weights fp32 --positions 128")
print(f"# {ROUNDS} interleaved rounds; median [min–max] tokens/s; ratio = median ArchLab / median llama2.c")
print("| shape | threads | llama2.c tok/s | ArchLab lean tok/s | ratio | copy GB/s (ArchLab's probe) |")
print("|---|---|---|---|---|---|")
for (name, t), r in results.items():
    lo, la = r["llama2.c"], r["archlab"]
    print(f"| {name} | {t} | {statistics.median(lo):,.0f} [{min(lo):,.0f}–{max(lo):,.0f}] | {statistics.median(la):,.0f} "
          f"[{min(la):,.0f}–{max(la):,.0f}] | {statistics.median(la) / statistics.median(lo):.2f} | {statistics.median(r['copy']):.1f} |")
