"""Golden cases for Gated DeltaNet: flash-linear-attention's GatedDeltaNetForCausalLM, logits in every mode its code has,
in float32 and float64, on CPU with Debian's PyTorch 1.13.

flash-linear-attention itself needs torch >= 2.7, triton and transformers, none of which exist here, so the model is run
from its pure-PyTorch pieces:
  * official code, executed from the source tree (FLA_SRC):
      fla/ops/gated_delta_rule/naive.py  naive_recurrent_gated_delta_rule, naive_chunk_gated_delta_rule (whole module)
      fla/ops/gated_delta_rule/gate.py   naive_gdn_gate (only this function, taken out with ast: the module imports triton)
      fla/modules/layernorm.py           rms_norm_ref (only this function, taken out with ast)
  * re-expressed here, line by line from the files named (their forms are Triton kernels):
      l2norm_fwd (fla/modules/l2norm.py), fused_beta_sigmoid (fla/ops/common/gate.py), ShortConvolution forward/step
      (fla/modules/conv/short_conv.py, causal_conv1d), FusedRMSNormGated (fla/modules/fused_norm_gate.py,
      layer_norm_gated_fwd_kernel with IS_RMS_NORM, ACTIVATION swish), swiglu (fla/modules/activations.py),
      GatedDeltaNet.forward (fla/layers/gated_deltanet.py), GatedDeltaNetBlock / GatedDeltaNetModel /
      GatedDeltaNetForCausalLM and _init_weights (fla/models/gated_deltanet/modeling_gated_deltanet.py), GatedMLP (fla/modules/mlp.py).
The naive functions cast to float32 inside; for the float64 run their source is patched textually (torch.float32,
torch.float and .float() become the run's dtype) and the patched float32 variant is checked bit-identical to the unpatched one.

Run (not part of CI):
  FLA_SRC=/path/to/flash-linear-attention EINOPS_SRC=/path/to/einops \
    /usr/bin/python3 tests/golden-tools/make_gated_deltanet_case.py {1|2} OUT_DIR
"""
import ast, json, math, os, platform, struct, sys

sys.path.insert(0, os.environ["EINOPS_SRC"])
FLA = os.environ["FLA_SRC"]

import torch
import torch.nn.functional as F

torch.set_num_threads(1)

CASES = {
    # Case 1 (committed): grouped value heads (4 value heads over 2 q/k heads), expand_v 1.5, output gate, short convs,
    # an explicit intermediate_size, untied head.
    "1": dict(name="case1_d48_h2_v4_ev1.5_gate", hidden_size=48, num_heads=2, head_dim=16, num_v_heads=4, expand_v=1.5,
              use_gate=True, use_short_conv=True, allow_neg_eigval=False, conv_size=4, hidden_ratio=4, intermediate_size=96,
              num_hidden_layers=2, vocab_size=97, norm_eps=1e-6, tie_word_embeddings=False, seed=1701),
    # Case 2 (checked outside the project): no grouping, expand_v 2, no output gate (plain RMSNorm), no short convs,
    # negative eigenvalues, hidden_ratio without intermediate_size, tied head, conv_size unused.
    "2": dict(name="case2_d32_h4_ev2_nogate_noconv_neg_tied", hidden_size=32, num_heads=4, head_dim=8, num_v_heads=None,
              expand_v=2.0, use_gate=False, use_short_conv=False, allow_neg_eigval=True, conv_size=4, hidden_ratio=2,
              intermediate_size=None, num_hidden_layers=2, vocab_size=97, norm_eps=1e-6, tie_word_embeddings=True, seed=1702),
}

# ---------------------------------------------------------------- official functions, executed from FLA_SRC

NAIVE_PATH = "fla/ops/gated_delta_rule/naive.py"
GATE_PATH = "fla/ops/gated_delta_rule/gate.py"
LAYERNORM_PATH = "fla/modules/layernorm.py"
NAIVE_PATCHES = [("torch.float32", "DTYPE", 5), ("dtype=torch.float,", "dtype=DTYPE,", 1), (".float()", ".to(DTYPE)", 1)]
GATE_PATCHES = [(".float()", ".to(DTYPE)", 3)]


def read(path):
    with open(os.path.join(FLA, path)) as f:
        return f.read()


def function_source(path, name):
    text = read(path)
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    raise KeyError(f"{name} not in {path}")


def patched(text, patches):
    for old, new, count in patches:
        found = text.count(old)
        assert found == count, f"patch '{old}': expected {count} occurrences, found {found} (source changed?)"
        text = text.replace(old, new)
    return text


def load_official(dtype, patch):
    """The naive kernels, the gate and rms_norm_ref; patched to run in `dtype` when `patch` is set."""
    ns = {"DTYPE": dtype, "torch": torch, "F": F}
    naive = read(NAIVE_PATH)
    gate = function_source(GATE_PATH, "naive_gdn_gate")
    if patch:
        naive, gate = patched(naive, NAIVE_PATCHES), patched(gate, GATE_PATCHES)
    exec(compile(naive, NAIVE_PATH, "exec"), ns)
    exec(compile(gate, GATE_PATH, "exec"), ns)
    exec(compile(function_source(LAYERNORM_PATH, "rms_norm_ref"), LAYERNORM_PATH, "exec"), ns)
    return ns


# ---------------------------------------------------------------- re-expressed pieces (Triton in the official code)

def l2norm(x):
    """l2norm_fwd_kernel: rstd = 1 / sqrt(sum(x*x) + eps), eps = 1e-6 (l2norm_fwd's default); NOT F.normalize."""
    return x * (1 / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-6))


def beta_sigmoid(b, allow_neg_eigval):
    """fused_beta_sigmoid(beta_raw, scale=2.0 if allow_neg_eigval else 1.0): scale * sigmoid(x)."""
    return (2.0 if allow_neg_eigval else 1.0) * torch.sigmoid(b)


def short_conv(x, weight, cache):
    """ShortConvolution (depthwise causal conv, kernel W, no bias, activation silu) on x [B, T, D].
    cache [B, D, W] holds the last W inputs (zeros before the first), as causal_conv1d's final_state and
    causal_conv1d_update's in-place cache do. Returns (y, new cache)."""
    B, T, D = x.shape
    W = weight.shape[-1]
    prev = cache if cache is not None else x.new_zeros(B, D, W)
    seq = torch.cat([prev[:, :, 1:], x.transpose(1, 2)], dim=-1)     # [B, D, W-1+T]
    y = F.conv1d(seq, weight, groups=D)                               # weight [D, 1, W] -> [B, D, T]
    new_cache = seq[:, :, -W:].clone()
    return F.silu(y).transpose(1, 2), new_cache


def rms_norm_gated(x, g, weight, eps, ns):
    """FusedRMSNormGated (activation swish): rms-normalise x, times weight, times g * sigmoid(g)."""
    return ns["rms_norm_ref"](x, weight, None, eps=eps) * g * torch.sigmoid(g)


# ---------------------------------------------------------------- the model (official parameter names)

def dims(cfg):
    H, K = cfg["num_heads"], cfg["head_dim"]
    HV = cfg["num_v_heads"] or H
    V = int(K * cfg["expand_v"])
    inter = cfg["intermediate_size"]
    if inter is None:
        ratio = cfg["hidden_ratio"] or 4
        inter = int(cfg["hidden_size"] * ratio * 2 / 3)
        inter = 256 * ((inter + 256 - 1) // 256)
    return H, K, HV, V, inter


def init_params(cfg, gen):
    """GatedDeltaNet.__init__ shapes and GatedDeltaNetPreTrainedModel._init_weights: Linear/Conv1d/Embedding N(0, 0.02)
    (initializer_range), A_log = log U(0, 16), dt_bias = softplus^-1(dt), dt log-uniform in [1e-3, 1e-1] clamped at 1e-4,
    RMSNorm weights 1."""
    D, L, vocab = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    H, K, HV, V, inter = dims(cfg)
    W = cfg["conv_size"]
    normal = lambda *shape: torch.randn(*shape, generator=gen) * 0.02
    p = {"model.embeddings.weight": normal(vocab, D), "model.norm.weight": torch.ones(D)}
    for i in range(L):
        a = f"model.layers.{i}.attn."
        p[f"model.layers.{i}.attn_norm.weight"] = torch.ones(D)
        p[a + "q_proj.weight"] = normal(H * K, D)
        p[a + "k_proj.weight"] = normal(H * K, D)
        p[a + "v_proj.weight"] = normal(HV * V, D)
        p[a + "a_proj.weight"] = normal(HV, D)
        p[a + "b_proj.weight"] = normal(HV, D)
        p[a + "A_log"] = torch.empty(HV).uniform_(0, 16, generator=gen).log()
        dt = torch.exp(torch.rand(HV, generator=gen) * (math.log(0.1) - math.log(0.001)) + math.log(0.001)).clamp(min=1e-4)
        p[a + "dt_bias"] = dt + torch.log(-torch.expm1(-dt))
        if cfg["use_short_conv"]:
            p[a + "q_conv1d.weight"] = normal(H * K, 1, W)
            p[a + "k_conv1d.weight"] = normal(H * K, 1, W)
            p[a + "v_conv1d.weight"] = normal(HV * V, 1, W)
        if cfg["use_gate"]:
            p[a + "g_proj.weight"] = normal(HV * V, D)
        p[a + "o_norm.weight"] = torch.ones(V)
        p[a + "o_proj.weight"] = normal(D, HV * V)
        p[f"model.layers.{i}.mlp_norm.weight"] = torch.ones(D)
        p[f"model.layers.{i}.mlp.gate_proj.weight"] = normal(inter, D)
        p[f"model.layers.{i}.mlp.up_proj.weight"] = normal(inter, D)
        p[f"model.layers.{i}.mlp.down_proj.weight"] = normal(D, inter)
    p["lm_head.weight"] = p["model.embeddings.weight"].clone() if cfg["tie_word_embeddings"] else normal(vocab, D)
    return p


def perturb(p, cfg, gen):
    """So that nothing is zero, one or tiny by accident: matrices get N(0, 0.08) added (the 0.02 init would make every
    branch a near-identity), conv taps N(0, 0.3), norm weights 1 + N(0, 0.2), A_log and dt_bias N(0, 0.3)."""
    out = {}
    for name, t in p.items():
        if name == "lm_head.weight" and cfg["tie_word_embeddings"]:
            continue
        if name.endswith("norm.weight"):
            s = 0.2
        elif "conv1d" in name:
            s = 0.3
        elif name.endswith("A_log") or name.endswith("dt_bias"):
            s = 0.3
        else:
            s = 0.08
        out[name] = t + torch.randn(t.shape, generator=gen) * s
    if cfg["tie_word_embeddings"]:
        out["lm_head.weight"] = out["model.embeddings.weight"]
    return out


class Cache:
    def __init__(self):
        self.layers = {}


def gated_deltanet(p, a, x, cfg, ns, mode, cache, chunk_size):
    """GatedDeltaNet.forward (fla/layers/gated_deltanet.py). mode: 'chunk' or 'fused_recurrent' (the naive form of each).
    cache: None (no cache) or a Cache whose entry for this layer holds (conv states, recurrent state)."""
    B, T, _ = x.shape
    H, K, HV, V, _ = dims(cfg)
    last = cache.layers.get(a) if cache is not None else None
    lin = lambda name, h: h @ p[a + name + ".weight"].t()
    if cfg["use_short_conv"]:
        cq, ck, cv = last[0] if last is not None else (None, None, None)
        q, cq = short_conv(lin("q_proj", x), p[a + "q_conv1d.weight"], cq)
        k, ck = short_conv(lin("k_proj", x), p[a + "k_conv1d.weight"], ck)
        v, cv = short_conv(lin("v_proj", x), p[a + "v_conv1d.weight"], cv)
        conv_state = (cq, ck, cv)
    else:
        q, k, v = F.silu(lin("q_proj", x)), F.silu(lin("k_proj", x)), F.silu(lin("v_proj", x))
        conv_state = None
    q, k = q.reshape(B, T, H, K), k.reshape(B, T, H, K)
    v = v.reshape(B, T, HV, V)
    # In the kernels (chunk_gated_delta_rule / fused_recurrent_gated_delta_rule with use_qk_l2norm_in_kernel,
    # use_gate_in_kernel, use_beta_sigmoid_in_kernel): l2norm q and k, gate, beta; value head i reads q/k head i // (HV/H).
    q, k = l2norm(q), l2norm(k)
    if HV != H:
        q, k = q.repeat_interleave(HV // H, dim=2), k.repeat_interleave(HV // H, dim=2)
    g = ns["naive_gdn_gate"](lin("a_proj", x), p[a + "A_log"], p[a + "dt_bias"], output_dtype=x.dtype)
    beta = beta_sigmoid(lin("b_proj", x), cfg["allow_neg_eigval"])
    h0 = last[1] if last is not None else None
    if mode == "chunk":
        o, ht = ns["naive_chunk_gated_delta_rule"](q, k, v, g, beta, chunk_size=chunk_size, initial_state=h0, output_final_state=True)
    else:
        o, ht = ns["naive_recurrent_gated_delta_rule"](q, k, v, beta, g, initial_state=h0, output_final_state=True)
    o = o.to(x.dtype)
    if cache is not None:
        cache.layers[a] = (conv_state, ht)
    if cfg["use_gate"]:
        o = rms_norm_gated(o, lin("g_proj", x).reshape(B, T, HV, V), p[a + "o_norm.weight"], cfg["norm_eps"], ns)
    else:
        o = ns["rms_norm_ref"](o, p[a + "o_norm.weight"], None, eps=cfg["norm_eps"])
    return o.reshape(B, T, HV * V) @ p[a + "o_proj.weight"].t()


def lm(p, ids, cfg, ns, mode, cache=None, chunk_size=64):
    """GatedDeltaNetForCausalLM: embeddings; per block attn_norm -> GatedDeltaNet -> residual, mlp_norm (fused add+norm)
    -> GatedMLP (swiglu) -> residual; final norm; lm_head."""
    eps = cfg["norm_eps"]
    rms = lambda h, w: ns["rms_norm_ref"](h, w, None, eps=eps)
    h = p["model.embeddings.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        h = h + gated_deltanet(p, pre + "attn.", rms(h, p[pre + "attn_norm.weight"]), cfg, ns, mode, cache, chunk_size)
        x = rms(h, p[pre + "mlp_norm.weight"])
        gate, up = x @ p[pre + "mlp.gate_proj.weight"].t(), x @ p[pre + "mlp.up_proj.weight"].t()
        h = h + (gate * torch.sigmoid(gate) * up) @ p[pre + "mlp.down_proj.weight"].t()
    return rms(h, p["model.norm.weight"]) @ p["lm_head.weight"].t()


def run_modes(p, ids, cfg, ns):
    """Every mode of the official code:
    chunk            whole sequence through the chunk kernel (training path; the layer's chunk size is the kernel default 64)
    chunk16          the same with chunk_size=16 (chunk_gated_delta_rule accepts 16/32/64): three chunks, inter-chunk states
    fused_recurrent  whole sequence through the recurrent kernel (the layer's inference path for q_len <= 64)
    recurrent        one token per call with the cache (ShortConvolution.step, recurrent state carried)
    prefill_step     16 prompt tokens in one call with use_cache (fused_recurrent, as in eval), then one token per call."""
    out = {
        "chunk": lm(p, ids, cfg, ns, "chunk"),
        "chunk16": lm(p, ids, cfg, ns, "chunk", chunk_size=16),
        "fused_recurrent": lm(p, ids, cfg, ns, "fused_recurrent"),
    }
    cache, steps = Cache(), []
    for t in range(ids.shape[1]):
        steps.append(lm(p, ids[:, t:t + 1], cfg, ns, "fused_recurrent", cache))
    out["recurrent"] = torch.cat(steps, dim=1)
    cache = Cache()
    parts = [lm(p, ids[:, :16], cfg, ns, "fused_recurrent", cache)]
    for t in range(16, ids.shape[1]):
        parts.append(lm(p, ids[:, t:t + 1], cfg, ns, "fused_recurrent", cache))
    out["prefill_step"] = torch.cat(parts, dim=1)
    return out


def write_safetensors(path, tensors):
    kinds = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, np_type = kinds[t.dtype]
        data = t.numpy().astype(np_type).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def official_config(cfg):
    """config.json with GatedDeltaNetConfig's field names."""
    c = {k: cfg[k] for k in ["hidden_size", "num_heads", "head_dim", "num_v_heads", "expand_v", "use_gate", "use_short_conv",
                             "allow_neg_eigval", "conv_size", "hidden_ratio", "intermediate_size", "num_hidden_layers",
                             "vocab_size", "norm_eps", "tie_word_embeddings"]}
    c.update(model_type="gated_deltanet", attn_mode="chunk", hidden_act="swish", initializer_range=0.02, fuse_norm=True,
             fuse_swiglu=True, fuse_cross_entropy=True, max_position_embeddings=2048, bos_token_id=1, eos_token_id=2,
             use_cache=True, attn=None)
    return c


def main():
    key, out = sys.argv[1], sys.argv[2]
    cfg = CASES[key]
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(cfg["seed"])
    params = perturb(init_params(cfg, gen), cfg, gen)
    ids = torch.randint(0, cfg["vocab_size"], (2, 37), generator=gen)

    ns32, ns32p, ns64 = load_official(torch.float32, False), load_official(torch.float32, True), load_official(torch.float64, True)
    with torch.no_grad():
        r32 = run_modes(params, ids, cfg, ns32)
        r32p = run_modes(params, ids, cfg, ns32p)
        p64 = {n: t.double() for n, t in params.items()}
        r64 = run_modes(p64, ids, cfg, ns64)
        # l2norm as F.normalize instead (the trap the issue names), float64, chunk mode: how far off that would be
        kernel_l2norm = l2norm
        globals()["l2norm"] = lambda x: F.normalize(x, p=2, dim=-1)
        r64_normalize = lm(p64, ids, cfg, ns64, "chunk")
        globals()["l2norm"] = kernel_l2norm

    checks = {}
    for m in r32:
        checks[f"{m} f32 patched == unpatched (max abs)"] = (r32p[m] - r32[m]).abs().max().item()
        checks[f"{m} f64 vs chunk f64"] = (r64[m] - r64["chunk"]).abs().max().item()
        checks[f"{m} f32 vs f64"] = (r32[m].double() - r64[m]).abs().max().item()
    checks["F.normalize instead of the kernel's l2norm, chunk f64 (max abs logits change)"] = (r64_normalize - r64["chunk"]).abs().max().item()
    checks["logits std (chunk f64)"] = r64["chunk"].std().item()
    for name, value in checks.items():
        print(f"{name}: {value:.3e}")
    assert all(v == 0 for n, v in checks.items() if "patched" in n), "the dtype patch changed float32 results"

    state = {n: t for n, t in params.items()}
    write_safetensors(os.path.join(out, "model.safetensors"), state)
    io = {"input_ids": ids}
    for m in r32:
        io[f"logits_{m}"] = r32[m]
        io[f"logits_{m}_f64"] = r64[m]
    write_safetensors(os.path.join(out, "io.safetensors"), io)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(official_config(cfg), f, indent=2)
    commit = os.environ.get("FLA_COMMIT", "unknown")
    meta = {
        "arch": "Gated DeltaNet language model (GatedDeltaNetForCausalLM)",
        "case": cfg["name"],
        "repo": "https://github.com/fla-org/flash-linear-attention",
        "commit": commit,
        "commit_date": os.environ.get("FLA_COMMIT_DATE", "unknown"),
        "einops": {"repo": "arogozhnikov/einops", "env_var": "EINOPS_SRC", "commit": os.environ.get("EINOPS_COMMIT", "unknown")},
        "script": "tests/golden-tools/make_gated_deltanet_case.py " + key,
        "official_code_executed": [
            {"file": NAIVE_PATH, "functions": ["naive_recurrent_gated_delta_rule", "naive_chunk_gated_delta_rule"],
             "how": "whole module exec'd from FLA_SRC"},
            {"file": GATE_PATH, "functions": ["naive_gdn_gate"], "how": "function source taken out with ast (the module imports triton)"},
            {"file": LAYERNORM_PATH, "functions": ["rms_norm_ref"], "how": "function source taken out with ast; used for every RMSNorm (upcast=False)"},
        ],
        "re_expressed_for_torch_1_13": [
            {"file": "fla/modules/l2norm.py", "function": "l2norm_fwd_kernel", "what": "q, k <- x * 1/sqrt(sum(x^2) + 1e-6) per head (use_qk_l2norm_in_kernel); not F.normalize"},
            {"file": "fla/ops/common/gate.py", "function": "fused_beta_sigmoid_fwd_kernel", "what": "beta = (2 if allow_neg_eigval else 1) * sigmoid(b_proj(x))"},
            {"file": "fla/modules/conv/short_conv.py", "function": "ShortConvolution.forward/step (causal_conv1d, causal_conv1d_update)", "what": "depthwise causal conv (weight [D,1,W], no bias: the block never passes conv_bias), SiLU; cache [B,D,W] = last W inputs"},
            {"file": "fla/modules/fused_norm_gate.py", "function": "FusedRMSNormGated / layer_norm_gated_fwd_kernel (IS_RMS_NORM, swish)", "what": "rms_norm_ref(o) * g * sigmoid(g) per value head, eps = norm_eps"},
            {"file": "fla/modules/activations.py", "function": "swiglu_fwd_kernel", "what": "gate * sigmoid(gate) * up"},
            {"file": "fla/modules/mlp.py", "function": "GatedMLP", "what": "down_proj(swiglu(gate_proj(x), up_proj(x))); intermediate_size default 256*ceil(int(hidden*ratio*2/3)/256)"},
            {"file": "fla/layers/gated_deltanet.py", "function": "GatedDeltaNet.forward", "what": "projections, short convs (or SiLU without them), l2norm, GVA (value head i uses q/k head i // (HV/H), as fused_recurrent's i_h = i_hv // (HV // H)), gate via naive_gdn_gate(a_proj(x), A_log, dt_bias), beta, kernel, o_norm, o_proj"},
            {"file": "fla/models/gated_deltanet/modeling_gated_deltanet.py", "function": "GatedDeltaNetBlock, GatedDeltaNetModel, GatedDeltaNetForCausalLM, _init_weights", "what": "pre-norm blocks (attn_norm, mlp_norm with fused residual add), final norm, lm_head; init N(0, initializer_range) for Linear/Conv1d/Embedding, A_log = log U(0,16), dt_bias = softplus^-1(log-uniform [1e-3, 1e-1] clamped 1e-4)"},
        ],
        "patches": {
            "float64 run": {"file": NAIVE_PATH, "replace": [[o, n, c] for o, n, c in NAIVE_PATCHES],
                            "also": {"file": GATE_PATH, "replace": [[o, n, c] for o, n, c in GATE_PATCHES]},
                            "note": "DTYPE is the run's dtype; the patched code run with DTYPE=float32 is checked bit-identical to the unpatched code"},
            "state layout": "the layer passes state_v_first=True (cache [B,HV,V,K]); the naive kernels keep [B,HV,K,V]; only the cache layout differs",
        },
        "modes": {
            "chunk": "whole sequence, naive_chunk_gated_delta_rule, chunk_size 64 (the kernel default the layer uses; T=37 is one chunk)",
            "chunk16": "whole sequence, naive_chunk_gated_delta_rule with chunk_size=16 (an allowed kernel chunk size): 3 chunks, T padded to 48",
            "fused_recurrent": "whole sequence, naive_recurrent_gated_delta_rule (what the layer uses in eval for q_len <= 64)",
            "recurrent": "one token per call with a cache: ShortConvolution.step and the recurrent state",
            "prefill_step": "16 tokens in one call with use_cache (fused_recurrent), then one token per call",
        },
        "dtype": "float32 primary (logits_<mode>); logits_<mode>_f64 from the same weights upcast exactly, naive kernels and gate patched to float64",
        "init": f"torch.Generator seed {cfg['seed']}: _init_weights values, then perturbation (matrices +N(0,0.08), conv +N(0,0.3), norm weights +N(0,0.2), A_log and dt_bias +N(0,0.3)); input_ids from the same generator",
        "tied": "lm_head.weight stored under its own name too (equal to model.embeddings.weight)" if cfg["tie_word_embeddings"] else "untied head",
        "self_checks": checks,
        "environment": {"python": platform.python_version(), "python_executable": sys.executable, "torch": torch.__version__,
                        "torch_num_threads": torch.get_num_threads(), "platform": platform.platform()},
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)


if __name__ == "__main__":
    main()
