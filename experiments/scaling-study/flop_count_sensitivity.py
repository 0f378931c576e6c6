"""How much approach 3's exponent a depends on two FLOP-counting conventions of the study.

Usage: python3 flop_count_sensitivity.py [MAX_BUDGET]   (default 3e12; run from experiments/scaling-study after `archlab fit`)

Approach 3 fits L(N, D) to N, D and the loss only, so its E, A, B, α and β do not depend on how FLOPs are counted. The
count enters where the fit finds each budget's optimum along C = F(N)·D (F: FLOPs per token, interpolated in ln N between
the sizes run, as `archlab fit` does) and fits a as the slope of ln N_opt against ln C over the budgets. This does that
with the recorded count and with a recount, and prints a (point estimates, from fits.json and fits-total.json) both ways:
  - attention's softmax, 3·heads per visible key, (T+1)/2 keys on average, per attention layer (Transformer, hybrid);
  - RetNet's parallel form as executed (every key of the dense T×T product, not its causal half).
The recorded count (src/ArchLab/Scaling/README.md) includes neither.
"""
import json, math, sys

max_budget = float(sys.argv[1]) if len(sys.argv) > 1 else 3e12
runs = [json.loads(l) for l in open('runs.jsonl')]
runs = [r for r in runs if r['compute_budget'] <= max_budget * (1 + 1e-6)]
budgets = sorted({r['compute_budget'] for r in runs})


def slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def recounted(r):
    """Training FLOPs per token (3 × forward) with the convention this script adds for the run's architecture."""
    flops, model = r['flops_per_token'], r['model']
    seq = r['train']['seq_len']
    if r['arch'] == 'transformer':
        return flops + 3 * model['layers'] * 3 * model['heads'] * (seq + 1) / 2
    if r['arch'] == 'hybrid-mamba-attn':  # layers alternate Mamba and attention
        return flops + 3 * (model['layers'] // 2) * 3 * model['heads'] * (seq + 1) / 2
    if r['arch'] == 'retnet':  # its only non-parameter work is retention: the causal half, (T+1)/2 keys, is counted
        non_parameter = flops / 3 - 2 * (r['non_embedding_params'] + model['vocab_size'] * model['dim'])
        return flops + 3 * non_parameter * (seq - 1) / (seq + 1)
    return None


def exponent(loss, ln_n, ln_f):
    """Slope of ln N_opt against ln C, N_opt minimising L(N, C / F(N)) on a grid of ln N (steps of 0.002)."""
    def ln_flops(x):
        i = 0
        while i < len(ln_n) - 2 and x > ln_n[i + 1]:
            i += 1
        return ln_f[i] + (ln_f[i + 1] - ln_f[i]) * (x - ln_n[i]) / (ln_n[i + 1] - ln_n[i])
    grid = [ln_n[0] - 3 + 0.002 * i for i in range(int((ln_n[-1] - ln_n[0] + 6) / 0.002))]
    optima = [min(grid, key=lambda x: loss(x, math.log(c) - ln_flops(x))) for c in budgets]
    return slope([math.log(c) for c in budgets], optima)


for total, fits_file in ((False, 'fits.json'), (True, 'fits-total.json')):
    fits = {f['arch']: f for f in json.load(open(fits_file))['fits']}
    for arch in ('transformer', 'hybrid-mamba-attn', 'retnet'):
        by_size = {(r['total_params'] if total else r['non_embedding_params']): r for r in runs if r['arch'] == arch}
        sizes = sorted(by_size)
        ln_n = [math.log(n) for n in sizes]
        p = fits[arch]['approach3']['parametric']
        e, a_, b_, alpha, beta = (p[k]['value'] for k in ('e', 'a', 'b', 'alpha', 'beta'))
        loss = lambda x, ln_d: e + a_ * math.exp(-alpha * x) + b_ * math.exp(-beta * ln_d)
        a1 = exponent(loss, ln_n, [math.log(by_size[n]['flops_per_token']) for n in sizes])
        a2 = exponent(loss, ln_n, [math.log(recounted(by_size[n])) for n in sizes])
        print(f"{'total' if total else 'non-embedding'} N, {arch}: a {a1:.3f} -> {a2:.3f}")
