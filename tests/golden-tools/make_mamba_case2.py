"""Golden case mamba/case2_d48_mlp: state-spaces/mamba's MambaLMHeadModel with d_intermediate > 0 (a GatedMLP after each
mixer, with norm2), float32 logits in parallel and recurrent (Mamba.step) modes.

Run with Debian's PyTorch (apt-get install python3-torch python3-numpy) on CPU:
  MAMBA_SRC=/path/to/state-spaces/mamba@e9594ce1 EINOPS_SRC=/path/to/arogozhnikov/einops \
    /usr/bin/python3 tests/golden-tools/make_mamba_case2.py OUT_DIR
Stubs and patches as for case 1 (its meta.json): triton and the CUDA extensions are absent, so the pure-PyTorch paths run
(selective_scan_ref, nn.Conv1d, the PyTorch step); RMSNorm.forward is rms_norm_ref; mamba2/mamba3/mha and transformers are
placeholders (unused by a Mamba1 model); fused_add_norm=False (the Block's plain residual path).
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
for name in ["mamba_ssm.modules.mamba2", "mamba_ssm.modules.mamba3", "mamba_ssm.modules.mha"]:
    m = types.ModuleType(name); setattr(m, name.split(".")[-1].capitalize(), None); m.MHA = None; m.Mamba2 = None; m.Mamba3 = None
    sys.modules[name] = m

import torch
import mamba_ssm.modules.mamba_simple as mamba_simple
from mamba_ssm.ops.selective_scan_interface import selective_scan_ref
import mamba_ssm.ops.triton.layer_norm as layer_norm
mamba_simple.selective_scan_fn = selective_scan_ref
mamba_simple.causal_conv1d_fn = mamba_simple.causal_conv1d_update = mamba_simple.selective_state_update = None
layer_norm.RMSNorm.forward = lambda self, x, residual=None, prenorm=False, residual_in_fp32=False: layer_norm.rms_norm_ref(x, self.weight, self.bias, eps=self.eps, upcast=True)
from mamba_ssm.models.config_mamba import MambaConfig
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

@dataclass
class InferenceParams:  # the fields Mamba.step and _get_states_from_cache use (mamba_ssm/utils/generation.py)
    max_seqlen: int
    max_batch_size: int
    seqlen_offset: int = 0
    batch_size_offset: int = 0
    key_value_memory_dict: dict = field(default_factory=dict)
    lengths_per_sample: object = None

torch.set_num_threads(1)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
config = dict(d_model=48, d_intermediate=100, n_layer=2, vocab_size=97, ssm_cfg={"layer": "Mamba1", "d_state": 8, "d_conv": 4, "expand": 2},
              attn_layer_idx=[], attn_cfg={}, rms_norm=True, residual_in_fp32=True, fused_add_norm=False, pad_vocab_size_multiple=8,
              tie_embeddings=False)
torch.manual_seed(1002)
model = MambaLMHeadModel(MambaConfig(**config)).eval()
gen = torch.Generator().manual_seed(2002)
with torch.no_grad():
    for name, p in model.named_parameters():
        std = 0.1 if ("norm" in name or name.endswith(("A_log", ".D", "dt_proj.bias"))) else 0.2 if "x_proj" in name else 0.05 if ("conv1d" in name or name.endswith("bias")) else 0.02
        p.add_((torch.randn(p.shape, generator=gen, dtype=torch.float64) * std).to(p.dtype))
state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}

ids = torch.randint(0, 97, (2, 37), generator=torch.Generator().manual_seed(3002))
with torch.no_grad():
    parallel = model(ids).logits
    params, steps = InferenceParams(max_seqlen=37, max_batch_size=2), []
    for t in range(ids.shape[1]):
        steps.append(model(ids[:, t:t + 1], inference_params=params).logits[:, -1])
        params.seqlen_offset += 1
    recurrent = torch.stack(steps, dim=1)

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = t.numpy().astype({torch.float32: "<f4", torch.int64: "<i8"}[t.dtype]).tobytes()
        header[name] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

write_safetensors(os.path.join(out, "model.safetensors"), state)
write_safetensors(os.path.join(out, "io.safetensors"), {"input_ids": ids, "logits_parallel": parallel.float(), "logits_recurrent": recurrent.float()})
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump({
        "arch": "Mamba (v1) language model with a GatedMLP after each mixer (d_intermediate 100, rounded up to 128 by GatedMLP)",
        "case": os.path.basename(os.path.normpath(out)), "repo": "https://github.com/state-spaces/mamba",
        "commit": "e9594ce1c732d97440f0332fdc43170a2294dbfa", "script": "tests/golden-tools/make_mamba_case2.py", "torch": torch.__version__,
        "dtype": "float32", "modes": "parallel = model(ids).logits; recurrent = one token at a time with InferenceParams (Mamba.step after the first)",
        "init": "torch.manual_seed(1002); MambaLMHeadModel's own init; additive perturbation as case 1 (generator seed 2002); fc1/fc2 N(0, 0.02)",
        "self_check_parallel_vs_recurrent_max_abs": float((parallel - recurrent).abs().max()),
    }, f, indent=2)
print("wrote", out, "parallel vs recurrent", float((parallel - recurrent).abs().max()), "tensors", sorted(state)[:6])
