"""How much approach 3's exponent a depends on two FLOP-counting conventions of the study.

Usage: python3 flop_count_sensitivity.py [MAX_BUDGET]   (default 3e12; run from experiments/scaling-study after `archlab fit`)

Approach 3 fits L(N, D) to N, D and the loss only, so α and β do not depend on how FLOPs are counted; the count enters
through v, the exponent of the fitted law F(N) ∝ N^v (FLOPs per token), in a = β/(α+vβ). This recounts each run's FLOPs
per token two other ways and prints v and a (point estimates, from fits.json and fits-total.json) both ways:
  - attention's softmax, 3·heads per visible key, (T+1)/2 keys on average, per attention layer (Transformer, hybrid);
  - RetNet's parallel form as executed (every key of the dense T×T product, not its causal half).
The recorded count (src/ArchLab/Scaling/README.md) includes neither.
"""
import json, math, sys

max_budget = float(sys.argv[1]) if len(sys.argv) > 1 else 3e12
runs = [json.loads(l) for l in open('runs.jsonl')]
runs = [r for r in runs if r['compute_budget'] <= max_budget * (1 + 1e-6)]


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


for total, fits_file in ((False, 'fits.json'), (True, 'fits-total.json')):
    fits = {f['arch']: f for f in json.load(open(fits_file))['fits']}
    for arch in ('transformer', 'hybrid-mamba-attn', 'retnet'):
        by_size = {(r['total_params'] if total else r['non_embedding_params']): r for r in runs if r['arch'] == arch}
        sizes = sorted(by_size)
        ln_n = [math.log(n) for n in sizes]
        v = slope(ln_n, [math.log(by_size[n]['flops_per_token']) for n in sizes])
        v2 = slope(ln_n, [math.log(recounted(by_size[n])) for n in sizes])
        p = fits[arch]['approach3']['parametric']
        alpha, beta = p['alpha']['value'], p['beta']['value']
        print(f"{'total' if total else 'non-embedding'} N, {arch}: v {v:.3f} -> {v2:.3f}, "
              f"a {beta / (alpha + v * beta):.3f} -> {beta / (alpha + v2 * beta):.3f}")
