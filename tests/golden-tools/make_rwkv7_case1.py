"""Golden case rwkv7/case1_d64_h16_L2: BlinkDL's RWKV-7 "Goose" (x070) reference code on CPU, float32 and float64.

Run with Debian's PyTorch 1.13 (apt-get install python3-torch python3-numpy) on CPU:
  RWKV_LM_SRC=/path/to/BlinkDL/RWKV-LM@524481d5 /usr/bin/python3 tests/golden-tools/make_rwkv7_case1.py OUT_DIR [case2]

Nothing of the official code is copied here: each official file is read from RWKV_LM_SRC and executed with the textual
patches listed in PATCHES below (each must match exactly once, or the script stops):
- RWKV-v7/train_temp/src/model.py: the official initialisation (RWKV(args).generate_init_weight()). It compiles CUDA
  extensions and registers custom autograd ops at import; those calls are stubbed (never executed by the init).
- RWKV-v7/rwkv_v7_demo.py: GPT mode, RWKV(args).forward(idx) with USE_CUDA_KERNEL = False (its pure-PyTorch RWKV7_OP
  loop, which computes in float32 only).
- RWKV-v7/rwkv_v7_demo_fast.py: RNN mode (forward_one per token) and sequence mode with state (forward_seq), the latter with
  the file's own commented "cuda-free method" loop enabled in place of the CUDA RWKV7_OP.
- RWKV-v7/rwkv_v7_numpy.py: johanwind's numpy RNN (RWKV7 per token), in float32 and float64.
The optional second argument "case2" builds a different config (dim 96, head size 32, 3 layers, vocab 61) used only for a
check outside the project.
"""
import json, math, os, struct, sys, tempfile, types

import numpy as np
import torch
import torch.nn as nn

SRC = os.path.join(os.environ["RWKV_LM_SRC"], "RWKV-v7")
OUT = sys.argv[1]
CASE2 = len(sys.argv) > 2 and sys.argv[2] == "case2"
torch.set_num_threads(1)

if CASE2:
    C, HEAD, LAYERS, VOCAB, SEEDS = 96, 32, 3, 61, (1117, 2117, 3117)
else:
    C, HEAD, LAYERS, VOCAB, SEEDS = 64, 16, 2, 97, (1107, 2107, 3107)
FFN, B, T, PROMPT = 4 * C, 2, 37, 16
PATCHES = {}


def patched(file, cut_at, replacements):
    """The official file's text up to the line containing cut_at, with each (old, new) replaced exactly once."""
    text = open(os.path.join(SRC, file), encoding="utf-8").read()
    if cut_at is not None:
        assert text.count(cut_at) == 1, (file, cut_at)
        text = text[:text.index(cut_at)]
    for old, new in replacements:
        assert text.count(old) == 1, (file, old, text.count(old))
        text = text.replace(old, new)
    PATCHES[file] = [f"cut before {cut_at!r}"] if cut_at else []
    PATCHES[file] += [f"{old!r} -> {new!r}" for old, new in replacements]
    return text


def run(text, name, extra=None):
    namespace = {"__name__": name, **(extra or {})}
    exec(compile(text, os.path.join(SRC, name), "exec"), namespace)
    return namespace


# ---- stubs for imports the CPU path never uses ------------------------------------------------------------------
class Placeholder(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Placeholder(name)

    def __call__(self, *a, **k):
        return Placeholder("result")


pl = types.ModuleType("pytorch_lightning"); pl.LightningModule = nn.Module
pl_utils = types.ModuleType("pytorch_lightning.utilities"); pl_utils.rank_zero_info = print; pl_utils.rank_zero_only = lambda f: f
pl_strat = types.ModuleType("pytorch_lightning.strategies"); pl_strat.DeepSpeedStrategy = type("DeepSpeedStrategy", (), {})
cpp_ext = types.ModuleType("torch.utils.cpp_extension"); cpp_ext.load = lambda *a, **k: Placeholder("extension")
sys.modules.update({"pytorch_lightning": pl, "pytorch_lightning.utilities": pl_utils, "pytorch_lightning.strategies": pl_strat,
                    "torch.utils.cpp_extension": cpp_ext})
STUBS = ["pytorch_lightning{,.utilities,.strategies}: placeholder modules (LightningModule := nn.Module)",
         "torch.utils.cpp_extension.load: returns a placeholder (no CUDA extension is compiled or called)",
         "torch.library.register_autograd (absent in torch 1.13): no-op during the import of train_temp/src/model.py",
         "torch.jit.script: identity during the import of train_temp/src/model.py (its scripted wrappers call the absent CUDA ops)"]

# ---- 1. the official initialisation (train_temp) ----------------------------------------------------------------
os.environ.update(RWKV_JIT_ON="0", RWKV_MY_TESTING="", RWKV_KERNEL="", RWKV_HEAD_SIZE="64", RWKV_HEAD_L2WRAP_CE_CHUNK="0",
                  RWKV_FLOAT_MODE="fp32")
jit_script, torch.jit.script = torch.jit.script, (lambda f: f)
torch.library.register_autograd = lambda *a, **k: None
train = run(patched("train_temp/src/model.py", None, []), "rwkv7_train_model")
torch.jit.script = jit_script
targs = types.SimpleNamespace(n_embd=C, n_layer=LAYERS, vocab_size=VOCAB, head_size=HEAD, dim_att=C, dim_ffn=FFN,
                              my_testing="x070", accelerator="cpu", ctx_len=T, grad_cp=0)
torch.manual_seed(SEEDS[0])
init_model = train["RWKV"](targs)
init = init_model.generate_init_weight()
names = list(init.keys())

# perturb every tensor so that nothing is zero, one or orthogonal by accident
gen = torch.Generator().manual_seed(SEEDS[1])
def std_of(n, p):
    if n.endswith(("ln0.weight", "ln1.weight", "ln2.weight", "ln_out.weight", "ln_x.weight")): return 0.1
    if n.endswith("bias"): return 0.05
    if n == "emb.weight": return 0.5
    if n.endswith((".w0", ".a0", ".v0")): return 0.3
    if n.endswith((".w1", ".a1", ".v1", ".g1")): return 0.3
    if n.endswith((".w2", ".a2", ".v2", ".g2")): return 0.1
    if n.endswith((".x_r", ".x_w", ".x_k", ".x_v", ".x_a", ".x_g", ".k_k", ".k_a", ".r_k")): return 0.1
    if n.endswith(("att.output.weight", "ffn.value.weight")): return 0.5 / math.sqrt(p.shape[1])  # zero-initialised
    return 0.05
state = {}
for n in names:
    p = init[n].float()
    state[n] = (p + (torch.randn(p.shape, generator=gen, dtype=torch.float64) * std_of(n, p)).float()).contiguous()
ids = torch.randint(0, VOCAB, (B, T), generator=torch.Generator().manual_seed(SEEDS[2]))
D_LORA = {k: state[f"blocks.0.att.{k}1"].shape[1] for k in "wavg"}

# ---- 2. GPT mode: rwkv_v7_demo.py -------------------------------------------------------------------------------
demo_text = patched("rwkv_v7_demo.py", "model_params = torch.load", [
    ("args.n_layer = 12", f"args.n_layer = {LAYERS}"), ("args.n_embd = 768", f"args.n_embd = {C}"),
    ("D_DECAY_LORA = 64", f"D_DECAY_LORA = {D_LORA['w']}"), ("D_AAA_LORA = 64", f"D_AAA_LORA = {D_LORA['a']}"),
    ("D_MV_LORA = 32", f"D_MV_LORA = {D_LORA['v']}"), ("D_GATE_LORA = 128", f"D_GATE_LORA = {D_LORA['g']}"),
    ("args.vocab_size = 65536", f"args.vocab_size = {VOCAB}"), ("DTYPE = torch.half # better", "DTYPE = torch.float"),
    ("args.head_size_a = 64 # don't change", f"args.head_size_a = {HEAD}"), ("USE_CUDA_KERNEL = True", "USE_CUDA_KERNEL = False"),
    ("MyModule = torch.jit.ScriptModule", "MyModule = nn.Module"), ("MyFunction = torch.jit.script_method", "MyFunction = lambda f: f"),
    ('tokenizer = RWKV_TOKENIZER("rwkv_vocab_v20230424.txt")', "tokenizer = None"),
])
demo = run(demo_text, "rwkv_v7_demo")
gpt = demo["RWKV"](demo["args"]).eval()
missing, unexpected = gpt.load_state_dict(state, strict=False)
assert not unexpected and all(k.endswith("ln0.weight") or k.endswith("ln0.bias") for k in missing) and \
    not any(k.startswith("blocks.0.") for k in missing), (missing, unexpected)
with torch.no_grad():
    logits_parallel = gpt(ids).float()

# ---- 3. RNN and sequence-with-state modes: rwkv_v7_demo_fast.py -------------------------------------------------
tmp = tempfile.mkdtemp()
torch.save(state, os.path.join(tmp, "model.pth"))
fast_text = patched("rwkv_v7_demo_fast.py", "# The testing code", [
    ("MyModule = torch.jit.ScriptModule", "MyModule = nn.Module"), ("MyFunction = torch.jit.script_method", "MyFunction = lambda f: f"),
    ("MyStatic = torch.jit.script", "MyStatic = lambda f: f"),
    ('args.MODEL_NAME = "/mnt/e/RWKV-Runner/models/rwkv7-g1a-0.1b-20250728-ctx4096"', f'args.MODEL_NAME = {os.path.join(tmp, "model")!r}'),
    ("args.n_layer = 12", f"args.n_layer = {LAYERS}"), ("args.n_embd = 768", f"args.n_embd = {C}"),
    ("args.vocab_size = 65536", f"args.vocab_size = {VOCAB}"), ("args.head_size = 64", f"args.head_size = {HEAD}"),
    ("DTYPE = torch.half", "DTYPE = torch.float"), ("map_location='cuda'", "map_location='cpu'"),
    ('state[i*3+0] = torch.zeros(args.n_embd, dtype=DTYPE, requires_grad=False, device="cuda")',
     'state[i*3+0] = torch.zeros(args.n_embd, dtype=DTYPE, requires_grad=False, device="cpu")'),
    ('state[i*3+1] = torch.zeros((args.n_embd // args.head_size, args.head_size, args.head_size), dtype=torch.float, requires_grad=False, device="cuda")',
     'state[i*3+1] = torch.zeros((args.n_embd // args.head_size, args.head_size, args.head_size), dtype=torch.float, requires_grad=False, device="cpu")'),
    ('state[i*3+2] = torch.zeros(args.n_embd, dtype=DTYPE, requires_grad=False, device="cuda")',
     'state[i*3+2] = torch.zeros(args.n_embd, dtype=DTYPE, requires_grad=False, device="cpu")'),
    # the file's own cuda-free loop, uncommented; the CUDA call it replaces commented out
    ("    # w = torch.exp(-0.606531 * torch.sigmoid((w0 + w).float())) # 0.606531 = exp(-0.5)\n"
     "    # for t in range(T):\n"
     "    #     r_, w_, k_, v_, kk_, a_ = r[t], w[t], k[t], v[t], kk[t], a[t]\n"
     "    #     vk = v_.view(H,N,1) @ k_.view(H,1,N)\n"
     "    #     ab = (-kk_).view(H,N,1) @ (kk_*a_).view(H,1,N)\n"
     "    #     state = state * w_.view(H,1,N) + state @ ab.float() + vk.float()\n"
     "    #     xx[t] = (state.to(dtype=x.dtype) @ r_.view(H,N,1)).view(H*N)\n",
     "    w = torch.exp(-0.606531 * torch.sigmoid((w0 + w).float())) # 0.606531 = exp(-0.5)\n"
     "    for t in range(T):\n"
     "        r_, w_, k_, v_, kk_, a_ = r[t], w[t], k[t], v[t], kk[t], a[t]\n"
     "        vk = v_.view(H,N,1) @ k_.view(H,1,N)\n"
     "        ab = (-kk_).view(H,N,1) @ (kk_*a_).view(H,1,N)\n"
     "        state = state * w_.view(H,1,N) + state @ ab.float() + vk.float()\n"
     "        xx[t] = (state.to(dtype=x.dtype) @ r_.view(H,N,1)).view(H*N)\n"),
    ("    w = -torch.nn.functional.softplus(-(w0 + w)) - 0.5\n    xx = RWKV7_OP(state, r, w, k, v, -kk, kk*a)\n",
     "    # w = -torch.nn.functional.softplus(-(w0 + w)) - 0.5\n    # xx = RWKV7_OP(state, r, w, k, v, -kk, kk*a)\n"),
])
fast = run(fast_text, "rwkv_v7_demo_fast")
rnn = fast["RWKV_x070"](fast["args"])
recurrent, prefill_step = [], []
for b in range(B):
    row, s = [], None
    for t in range(T):
        out, s = rnn.forward(int(ids[b, t]), s)
        row.append(out.float())
    recurrent.append(torch.stack(row))
    out, s = rnn.forward([int(i) for i in ids[b, :PROMPT]], None, full_output=True)
    row = [out.float()]
    for t in range(PROMPT, T):
        out, s = rnn.forward(int(ids[b, t]), s)
        row.append(out.float().unsqueeze(0))
    prefill_step.append(torch.cat(row))
logits_recurrent, logits_prefill_step = torch.stack(recurrent), torch.stack(prefill_step)

# ---- 4. numpy RNN: rwkv_v7_numpy.py (float32 and float64) -------------------------------------------------------
numpy_text = patched("rwkv_v7_numpy.py", "# Verification", [  # numpy 1.24 has no ndarray.mT (numpy >= 2.0): same transpose
    ("S = S * w.mT - S @ kk * (kk*a).mT + v * k.mT",
     "S = S * np.swapaxes(w, -1, -2) - S @ kk * np.swapaxes(kk*a, -1, -2) + v * np.swapaxes(k, -1, -2)")])
ATT_ORDER = ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "r_k", "w1", "w2", "a1", "a2", "a0", "g1", "g2",
             "v2", "v1", "v0", "k_k", "k_a", "receptance.weight", "key.weight", "value.weight", "output.weight",
             "ln_x.weight", "ln_x.bias"]

def numpy_logits(dtype):
    ns = run(numpy_text, "rwkv_v7_numpy", {"N_LAYER": LAYERS, "N_EMBD": C, "HEAD_SIZE": HEAD, "N_HEAD": C // HEAD})
    w = {k: v.double().squeeze().numpy().astype(dtype) for k, v in state.items()}
    def params(prefix):
        if prefix.endswith(".att"):  # the key order of released checkpoints that the function unpacks (layer 0 has no v0/v1/v2 there)
            layer0 = prefix == "blocks.0.att"
            return [w[f"{prefix}.{k}"] for k in ATT_ORDER if not (layer0 and k in ("v0", "v1", "v2"))]
        return [w[k] for k in names if k.startswith(prefix + ".")]
    out = np.zeros((B, T, VOCAB), dtype=dtype)
    for b in range(B):
        s = (np.zeros((LAYERS, 2, C), dtype=dtype), np.zeros((LAYERS, C // HEAD, HEAD, HEAD), dtype=dtype))
        for t in range(T):
            out[b, t], s = ns["RWKV7"](params, int(ids[b, t]), s)
    return torch.from_numpy(out)

logits_numpy_f32, logits_recurrent_f64 = numpy_logits(np.float32), numpy_logits(np.float64)

# ---- write -------------------------------------------------------------------------------------------------------
def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        kind = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}[t.dtype]
        data = t.numpy().astype(kind[1]).tobytes()
        header[name] = {"dtype": kind[0], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data); offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

d = lambda x, y: float((x.double() - y.double()).abs().max())
checks = {
    "parallel_vs_recurrent (demo GPT f32 vs demo_fast forward_one f32)": d(logits_parallel, logits_recurrent),
    "parallel_vs_prefill_step": d(logits_parallel, logits_prefill_step),
    "recurrent_vs_numpy_f32 (not stored)": d(logits_recurrent, logits_numpy_f32),
    "parallel_f32_vs_recurrent_f64": d(logits_parallel, logits_recurrent_f64),
    "numpy_f32_vs_numpy_f64": d(logits_numpy_f32, logits_recurrent_f64),
}
os.makedirs(OUT, exist_ok=True)
write_safetensors(os.path.join(OUT, "model.safetensors"), state)
write_safetensors(os.path.join(OUT, "io.safetensors"), {
    "input_ids": ids, "logits_parallel": logits_parallel, "logits_recurrent": logits_recurrent,
    "logits_prefill_step": logits_prefill_step, "logits_recurrent_f64": logits_recurrent_f64})
config = {"n_embd": C, "n_layer": LAYERS, "vocab_size": VOCAB, "head_size_a": HEAD, "dim_att": C, "dim_ffn": FFN,
          "D_DECAY_LORA": D_LORA["w"], "D_AAA_LORA": D_LORA["a"], "D_MV_LORA": D_LORA["v"], "D_GATE_LORA": D_LORA["g"]}
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
with open(os.path.join(OUT, "meta.json"), "w") as f:
    json.dump({
        "arch": "RWKV-7 \"Goose\" (x070) language model",
        "case": os.path.basename(os.path.normpath(OUT)),
        "repo": "https://github.com/BlinkDL/RWKV-LM", "commit": "524481d5099b38d9bc8ef1e89209161b86c8011b",
        "commit_date": "2026-08-21T21:43:06+08:00", "script": "tests/golden-tools/make_rwkv7_case1.py",
        "files": {
            "RWKV-v7/train_temp/src/model.py": "RWKV(args).generate_init_weight(): the official initialisation (RWKV_Tmix_x070.__init__, RWKV_CMix_x070.__init__)",
            "RWKV-v7/rwkv_v7_demo.py": "RWKV.forward (GPT mode): RWKV_Tmix_x070.forward, RWKV_CMix_x070.forward, RWKV7_OP (pure-PyTorch branch)",
            "RWKV-v7/rwkv_v7_demo_fast.py": "RWKV_x070.forward_one / forward_seq, RWKV_x070_TMix_one / _seq, RWKV_x070_CMix_one / _seq",
            "RWKV-v7/rwkv_v7_numpy.py": "RWKV7, time_mixing, channel_mixing (numpy RNN)",
        },
        "environment": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__, "torch_num_threads": 1},
        "stubs": STUBS, "patches": PATCHES,
        "notes": [
            "Weights are the train_temp state dict (raw training names and shapes: x_* [1,1,C], r_k [H,N], w1 [C,D], w2 [D,C], Linear weights [out,in]); it includes blocks.0.att.v0/v1/v2, which layer 0 never uses (released checkpoints drop them; the demos load with strict=False or alias them).",
            "Block.ln0 exists only in block 0 (train_temp); rwkv_v7_demo.py creates ln0 in every block but uses it only in block 0, so it is loaded with strict=False and only blocks.N>0.ln0 are missing.",
            "rwkv_v7_demo.py's RWKV sets dim_ffn = 4 * n_embd; the case uses that width.",
            "train_temp/src/model.py asserts RWKV_HEAD_SIZE == 64 at import (for its CUDA kernels); the env var is 64 and the model's head size comes from args.head_size, which is what RWKV_Tmix_x070 reads.",
            "Decay: demo GPT mode uses w = exp(-exp(-softplus(-(w0 + lora)) - 0.5)); demo_fast uses exp(-0.606531 * sigmoid(w0 + lora)) (0.606531 ~ exp(-0.5), relative error 5.5e-7); numpy uses exp(-sigmoid(...)/e**0.5). The same function up to that constant.",
            "rwkv_v7_numpy.py takes parameters positionally in the key order of released checkpoints; params() lists them in that order (ATT_ORDER in the script) and omits v0/v1/v2 for layer 0 as released checkpoints do.",
            "Every mode runs one sequence at a time (the demo_fast and numpy code have no batch dimension); GPT mode runs the batch of 2.",
            "Float64: only rwkv_v7_numpy.py computes in float64 end to end (the demo RWKV7_OP casts to float32; demo_fast keeps its state in float32).",
        ],
        "init": {"seed": SEEDS[0], "how": "torch.manual_seed(seed); train_temp RWKV(args).generate_init_weight()",
                 "args": vars(targs)},
        "perturbation": {"seed": SEEDS[1], "how": "torch.Generator().manual_seed(seed); per tensor in state-dict order: p + (randn(shape, float64) * std).float()",
                         "std": {n: std_of(n, state[n]) for n in names}},
        "inputs": {"seed": SEEDS[2], "how": "torch.randint(0, vocab, (2, 37), generator=torch.Generator().manual_seed(seed))"},
        "io_tensors": {
            "input_ids": "I64 [2,37]",
            "logits_parallel": "F32 [B,T,V]: rwkv_v7_demo.py GPT mode, RWKV(args)(ids), pure-PyTorch RWKV7_OP",
            "logits_recurrent": "F32 [B,T,V]: rwkv_v7_demo_fast.py RNN mode, forward_one token by token from state None",
            "logits_prefill_step": f"F32 [B,T,V]: rwkv_v7_demo_fast.py forward_seq(first {PROMPT} tokens, None, full_output=True) then forward_one per token",
            "logits_recurrent_f64": "F64 [B,T,V]: rwkv_v7_numpy.py RWKV7 per token with float64 weights and state",
        },
        "self_checks_max_abs": checks,
        "logit_stats": {"max_abs": float(logits_parallel.abs().max()), "std": float(logits_parallel.std())},
    }, f, indent=2)
print(json.dumps(checks, indent=1), D_LORA, "logit std", float(logits_parallel.std()))
