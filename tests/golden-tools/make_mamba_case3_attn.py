"""Golden case mamba/case3_attn_hybrid: state-spaces/mamba's MambaLMHeadModel with attn_layer_idx (an official attention
hybrid: mamba_ssm.modules.mha.MHA in layer 1 of 3), grouped KV heads, a head_dim unrelated to d_model / num_heads, partial
rotary (rotary_emb_dim 8 of head_dim 16, flash_attn's non-interleaved layout), biases on in_proj and out_proj; float32 and
float64 logits of the parallel pass.

Run with Debian's PyTorch (apt-get install python3-torch python3-numpy) on CPU:
  MAMBA_SRC=/path/to/state-spaces/mamba@e9594ce1 EINOPS_SRC=/path/to/arogozhnikov/einops \
  FLASH_ATTN_SRC=/path/to/Dao-AILab/flash-attention@0251105a (only flash_attn/layers/rotary.py is used) \
    /usr/bin/python3 tests/golden-tools/make_mamba_case3_attn.py OUT_DIR
Stubs and patches as for case 2 (its docstring), except that MHA is the real module, plus two, both in this file:
flash_attn's Triton rotary kernel is replaced by rotary.py's own apply_rotary_emb_torch, and F.scaled_dot_product_attention
(absent from PyTorch 1.13) by PyTorch 2's documented reference semantics.
Only the parallel mode is stored: without flash_attn, MHA's decoding path calls scaled_dot_product_attention with
is_causal=True for one query against the whole cache, which PyTorch 2 aligns top-left (the query sees key 0 only), and with
rotary_emb_dim a multiple of 16 it needs flash_attn_with_kvcache (CUDA). ArchLab's recurrent and prefill+step logits are
checked against these parallel logits instead.
"""
import importlib.util, json, os, struct, sys, types
from dataclasses import dataclass, field

sys.path.insert(0, os.environ["EINOPS_SRC"])
src = os.environ["MAMBA_SRC"]

class Anything(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Anything(name)
    def __call__(self, *a, **k):
        return a[0] if a and callable(a[0]) else self

for name in ["triton", "triton.language"]:
    sys.modules[name] = Anything(name)
sys.modules["triton"].__version__ = "0.0.0"

class TritonConfig:  # layer_norm.py prunes its autotune configs by num_warps at import time
    def __init__(self, kwargs, num_warps=4, num_stages=2, **rest):
        self.kwargs, self.num_warps, self.num_stages = kwargs, num_warps, num_stages

sys.modules["triton"].Config = TritonConfig
for name in ["causal_conv1d", "causal_conv1d.cpp_functions", "causal_conv1d.causal_conv1d_varlen", "selective_scan_cuda",
             "mamba_ssm.ops.triton.selective_state_update"]:
    sys.modules[name] = None
for name in ["transformers", "transformers.generation", "transformers.utils", "transformers.utils.hub"]:
    sys.modules[name] = Anything(name)
pkg = types.ModuleType("mamba_ssm"); pkg.__path__ = [os.path.join(src, "mamba_ssm")]; sys.modules["mamba_ssm"] = pkg
for name in ["mamba_ssm.modules.mamba2", "mamba_ssm.modules.mamba3"]:
    m = types.ModuleType(name); setattr(m, name.split(".")[-1].capitalize(), None); m.MHA = None; m.Mamba2 = None; m.Mamba3 = None
    sys.modules[name] = m

import torch
import torch.nn.functional as F

# flash_attn's RotaryEmbedding (flash_attn/layers/rotary.py, imported from FLASH_ATTN_SRC): its Triton kernel
# `apply_rotary` is replaced by the same file's own PyTorch reference, apply_rotary_emb_torch, sliced at the offset.
flash = types.ModuleType("flash_attn"); flash.__path__ = [os.path.join(os.environ["FLASH_ATTN_SRC"], "flash_attn")]; sys.modules["flash_attn"] = flash
for name in ["flash_attn.ops", "flash_attn.ops.triton"]:
    m = types.ModuleType(name); m.__path__ = []; sys.modules[name] = m
rotary_kernel = types.ModuleType("flash_attn.ops.triton.rotary"); sys.modules["flash_attn.ops.triton.rotary"] = rotary_kernel
def apply_rotary(x, cos, sin, seqlen_offsets=0, cu_seqlens=None, max_seqlen=None, interleaved=False, inplace=False, conjugate=False):
    assert cu_seqlens is None and isinstance(seqlen_offsets, int)
    t = x.shape[1]
    c, s = cos[seqlen_offsets:seqlen_offsets + t], sin[seqlen_offsets:seqlen_offsets + t]
    out = flash_rotary.apply_rotary_emb_torch(x, c, -s if conjugate else s, interleaved)
    if inplace:
        x.copy_(out)
        return x
    return out
rotary_kernel.apply_rotary = apply_rotary
import flash_attn.layers.rotary as flash_rotary

# PyTorch 1.13 has no F.scaled_dot_product_attention (MHA calls it): PyTorch 2's documented reference semantics
# (scale 1/sqrt(head_dim) by default; is_causal masks with a top-left-aligned lower triangle).
def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    assert attn_mask is None and dropout_p == 0.0
    scale = 1.0 / (q.shape[-1] ** 0.5) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale
    if is_causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
F.scaled_dot_product_attention = scaled_dot_product_attention

import mamba_ssm.modules.mamba_simple as mamba_simple
from mamba_ssm.ops.selective_scan_interface import selective_scan_ref
import mamba_ssm.ops.triton.layer_norm as layer_norm
mamba_simple.selective_scan_fn = selective_scan_ref
mamba_simple.causal_conv1d_fn = mamba_simple.causal_conv1d_update = mamba_simple.selective_state_update = None
layer_norm.RMSNorm.forward = lambda self, x, residual=None, prenorm=False, residual_in_fp32=False: layer_norm.rms_norm_ref(x, self.weight, self.bias, eps=self.eps, upcast=True)
from mamba_ssm.models.config_mamba import MambaConfig
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel


torch.set_num_threads(1)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
config = dict(d_model=48, d_intermediate=0, n_layer=3, vocab_size=97, ssm_cfg={"layer": "Mamba1", "d_state": 8, "d_conv": 4, "expand": 2},
              attn_layer_idx=[1], attn_cfg={"num_heads": 4, "num_heads_kv": 2, "head_dim": 16, "rotary_emb_dim": 8, "causal": True,
                                            "qkv_proj_bias": True, "out_proj_bias": True},
              rms_norm=True, residual_in_fp32=True, fused_add_norm=False, pad_vocab_size_multiple=8, tie_embeddings=True)
torch.manual_seed(1003)
model = MambaLMHeadModel(MambaConfig(**config)).eval()
gen = torch.Generator().manual_seed(2003)
with torch.no_grad():
    for name, p in model.named_parameters():
        std = 0.1 if ("norm" in name or name.endswith(("A_log", ".D", "dt_proj.bias"))) else 0.2 if "x_proj" in name else 0.05 if ("conv1d" in name or name.endswith("bias")) else 0.02
        p.add_((torch.randn(p.shape, generator=gen, dtype=torch.float64) * std).to(p.dtype))
state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}

ids = torch.randint(0, 97, (2, 37), generator=torch.Generator().manual_seed(3003))
with torch.no_grad():
    parallel = model(ids).logits
    parallel_f64 = model.double()(ids).logits
    # self-check: the attention layer is used (zeroing its output projection changes the logits)
    model.backbone.layers[1].mixer.out_proj.weight.zero_(); model.backbone.layers[1].mixer.out_proj.bias.zero_()
    without_attention = model(ids).logits
assert type(model.backbone.layers[1].mixer).__name__ == "MHA" and type(model.backbone.layers[0].mixer).__name__ == "Mamba"
def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = t.numpy().astype({torch.float32: "<f4", torch.float64: "<f8", torch.int64: "<i8"}[t.dtype]).tobytes()
        header[name] = {"dtype": {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

write_safetensors(os.path.join(out, "model.safetensors"), {k: v for k, v in state.items() if k != "lm_head.weight"})
write_safetensors(os.path.join(out, "io.safetensors"), {"input_ids": ids, "logits_parallel": parallel.float(), "logits_parallel_f64": parallel_f64.double()})
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump({
        "arch": "Mamba (v1) / attention hybrid: MHA in layer 1 of 3 (attn_layer_idx), 4 query heads, 2 KV heads, head_dim 16, rotary on 8 dims, biases",
        "case": os.path.basename(os.path.normpath(out)), "repo": "https://github.com/state-spaces/mamba",
        "commit": "e9594ce1c732d97440f0332fdc43170a2294dbfa", "rotary_repo": "https://github.com/Dao-AILab/flash-attention",
        "rotary_commit": "0251105a2fb19d2957484b7f023cd8c115286ced", "files": ["mamba_ssm/models/mixer_seq_simple.py", "mamba_ssm/modules/mha.py",
        "mamba_ssm/modules/mamba_simple.py", "mamba_ssm/modules/block.py", "flash_attn/layers/rotary.py"],
        "script": "tests/golden-tools/make_mamba_case3_attn.py", "torch": torch.__version__,
        "patches": ["flash_attn.ops.triton.rotary.apply_rotary -> rotary.py's apply_rotary_emb_torch on cos/sin sliced at the offset",
                    "F.scaled_dot_product_attention (absent in torch 1.13) -> PyTorch 2's documented reference (softmax(q k^T / sqrt(d)) v, top-left causal mask)",
                    "as case 2: selective_scan_ref, rms_norm_ref, no triton/causal_conv1d/selective_state_update, fused_add_norm False"],
        "dtype": "float32 (logits_parallel) and float64 (logits_parallel_f64: the same weights as model.double(); rotary cos/sin still computed in float32 first)",
        "modes": "parallel only: see the script's docstring for why the official decoding path cannot run here",
        "tied_head": "tie_embeddings true: lm_head.weight is the embedding and is not stored",
        "init": "torch.manual_seed(1003); MambaLMHeadModel's own init; additive perturbation as case 1 (generator seed 2003)",
        "self_check_f32_vs_f64_max_abs": float((parallel.double() - parallel_f64).abs().max()),
        "self_check_attention_matters_max_abs": float((parallel_f64 - without_attention).abs().max()),
    }, f, indent=2)
print("wrote", out, "f32 vs f64", float((parallel.double() - parallel_f64).abs().max()), "attention effect", float((parallel_f64 - without_attention).abs().max()))
