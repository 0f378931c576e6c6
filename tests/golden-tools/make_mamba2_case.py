"""Golden cases for Mamba-2 (SSD): state-spaces/mamba's MambaLMHeadModel with ssm_cfg {"layer": "Mamba2"}, logits in
float32 and float64 in every mode the official code has: parallel (Mamba2.forward), recurrent (Mamba2.step for every
token) and prefill_step (a prompt through forward with an inference cache, then step).

Run with Debian's PyTorch (apt-get install python3-torch python3-numpy) on CPU:
  MAMBA_SRC=/path/to/state-spaces/mamba@e9594ce1 EINOPS_SRC=/path/to/arogozhnikov/einops \
    /usr/bin/python3 tests/golden-tools/make_mamba2_case.py case1 OUT_DIR     # the committed case
    /usr/bin/python3 tests/golden-tools/make_mamba2_case.py case2 OUT_DIR     # the second config, checked outside the project

Triton and the CUDA extensions are absent, so the official pure-PyTorch references stand in for the kernels (meta.json
lists each): mamba_chunk_scan_combined := a wrapper of ssd_minimal.ssd_minimal_discrete (the paper's Listing 1),
selective_state_update := selective_state_update_ref (handles ngroups > 1, unlike step()'s own fallback branch), the
gated RMSNorm := layernorm_gated.rms_norm_ref, the block RMSNorm := layer_norm.rms_norm_ref; use_mem_eff_path=False
(the un-fused path of Mamba2.forward) and fused_add_norm=False. The wrapper applies dt's bias and softplus first and pads
x·dt and A·dt with zeros to a multiple of chunk_size afterwards, so the pad neither decays nor feeds the final state.
"""
import contextlib, json, os, struct, sys, types
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

def autotune(configs=(), **rest):  # the ssd_* modules read kernel.configs at import time
    def mark(kernel):
        kernel.configs = list(configs)
        return kernel
    return mark

sys.modules["triton"].autotune = autotune
for name in ["causal_conv1d", "causal_conv1d.cpp_functions", "causal_conv1d.causal_conv1d_varlen", "selective_scan_cuda"]:
    sys.modules[name] = None
for name in ["transformers", "transformers.generation", "transformers.utils", "transformers.utils.hub"]:
    sys.modules[name] = Anything(name)
hub = types.ModuleType("huggingface_hub")
hub.PyTorchModelHubMixin = type("PyTorchModelHubMixin", (), {})  # a mixin for hub upload/download only
sys.modules["huggingface_hub"] = hub
pkg = types.ModuleType("mamba_ssm"); pkg.__path__ = [os.path.join(src, "mamba_ssm")]; sys.modules["mamba_ssm"] = pkg
for name in ["mamba_ssm.modules.mamba3", "mamba_ssm.modules.mha"]:
    m = types.ModuleType(name); m.MHA = None; m.Mamba3 = None
    sys.modules[name] = m

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
import mamba_ssm.modules.mamba2 as mamba2
import mamba_ssm.ops.triton.layer_norm as layer_norm
import mamba_ssm.ops.triton.layernorm_gated as layernorm_gated
from mamba_ssm.modules.ssd_minimal import ssd_minimal_discrete
from mamba_ssm.ops.triton.selective_state_update import selective_state_update_ref
from mamba_ssm.ops.triton.ssd_combined import ssd_chunk_scan_combined_ref, ssd_selective_scan
import mamba_ssm.ops.selective_scan_interface as selective_scan_interface


def chunk_scan_minimal(x, dt, A, B, C, chunk_size, D=None, z=None, dt_bias=None, initial_states=None, seq_idx=None,
                       cu_seqlens=None, dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False,
                       return_varlen_states=False, state_dtype=None):
    """mamba_chunk_scan_combined's contract, computed by ssd_minimal_discrete (x: b l h p, dt: b l h, A: h, B/C: b l g n)."""
    assert seq_idx is None and cu_seqlens is None and not return_varlen_states
    batch, seqlen, nheads, headdim = x.shape
    ngroups = B.shape[2]
    dt = dt.float()
    if dt_bias is not None:
        dt = dt + dt_bias
    if dt_softplus:
        dt = F.softplus(dt)
    if dt_limit != (0.0, float("inf")):
        dt = dt.clamp(min=dt_limit[0], max=dt_limit[1])
    pad = -seqlen % chunk_size  # after the softplus: the padded steps have dt = 0 (no decay, no input)
    X = F.pad(x * dt.unsqueeze(-1).to(x.dtype), (0, 0, 0, 0, 0, pad))
    dA = F.pad(dt * A, (0, 0, 0, pad)).to(x.dtype)
    Bh = F.pad(repeat(B, "b l g n -> b l (g h) n", h=nheads // ngroups), (0, 0, 0, 0, 0, pad))
    Ch = F.pad(repeat(C, "b l g n -> b l (g h) n", h=nheads // ngroups), (0, 0, 0, 0, 0, pad))
    y, final = ssd_minimal_discrete(X, dA, Bh, Ch, chunk_size, initial_states=None if initial_states is None else initial_states.unsqueeze(1))
    y = y[:, :seqlen]
    if D is not None:
        y = y + x * (D if D.dim() == 2 else D.unsqueeze(-1))
    if z is not None:
        y = y * F.silu(z)
    return (y, final) if return_final_states else y


def gated_norm_forward(self, x, z=None):
    return layernorm_gated.rms_norm_ref(x, self.weight, self.bias, z=z, eps=self.eps, group_size=self.group_size,
                                        norm_before_gate=self.norm_before_gate, upcast=True)


mamba2.mamba_chunk_scan_combined = chunk_scan_minimal
mamba2.selective_state_update = selective_state_update_ref
mamba2.causal_conv1d_fn = mamba2.causal_conv1d_update = None
mamba2.RMSNormGated.forward = gated_norm_forward
layer_norm.RMSNorm.forward = lambda self, x, residual=None, prenorm=False, residual_in_fp32=False: layer_norm.rms_norm_ref(x, self.weight, self.bias, eps=self.eps, upcast=True)
selective_scan_interface.selective_scan_fn = selective_scan_interface.selective_scan_ref  # for the ssd_selective_scan self-check
from mamba_ssm.models.config_mamba import MambaConfig
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel


@dataclass
class InferenceParams:  # the fields Mamba2.step and _get_states_from_cache use (mamba_ssm/utils/generation.py)
    max_seqlen: int
    max_batch_size: int
    seqlen_offset: int = 0
    batch_size_offset: int = 0
    key_value_memory_dict: dict = field(default_factory=dict)
    lengths_per_sample: object = None


@contextlib.contextmanager
def float64_lift():
    """The official code upcasts with .float() and .to(torch.float32) (A, dt, the norms, the residual, the step's A);
    on a float64 model those would round to float32. Inside this context both keep float64 tensors float64."""
    to, flt = torch.Tensor.to, torch.Tensor.float
    def lifted_to(self, *args, **kwargs):
        if self.dtype == torch.float64:
            args = tuple(torch.float64 if a is torch.float32 else a for a in args)
            if kwargs.get("dtype") is torch.float32:
                kwargs["dtype"] = torch.float64
        return to(self, *args, **kwargs)
    torch.Tensor.to = lifted_to
    torch.Tensor.float = lambda self, *a, **k: self if self.dtype == torch.float64 else flt(self, *a, **k)
    try:
        yield
    finally:
        torch.Tensor.to, torch.Tensor.float = to, flt


CASES = {
    "case1": dict(
        name="case1_d48_h6_g2_chunk16",
        seed=1701,
        config=dict(d_model=48, d_intermediate=0, n_layer=2, vocab_size=97,
                    ssm_cfg={"layer": "Mamba2", "d_state": 8, "d_conv": 4, "expand": 2, "headdim": 16, "ngroups": 2,
                             "chunk_size": 16, "norm_before_gate": False, "rmsnorm": True, "use_mem_eff_path": False},
                    attn_layer_idx=[], attn_cfg={}, rms_norm=True, residual_in_fp32=True, fused_add_norm=False,
                    pad_vocab_size_multiple=8, tie_embeddings=False)),
    "case2": dict(
        name="case2_d32_h8_g1_chunk8_mlp_tied",
        seed=1702,
        config=dict(d_model=32, d_intermediate=64, n_layer=2, vocab_size=97,
                    ssm_cfg={"layer": "Mamba2", "d_state": 16, "d_conv": 3, "expand": 2, "headdim": 8, "ngroups": 1,
                             "chunk_size": 8, "norm_before_gate": True, "bias": True, "conv_bias": True,
                             "use_mem_eff_path": False},
                    attn_layer_idx=[], attn_cfg={}, rms_norm=True, residual_in_fp32=True, fused_add_norm=False,
                    pad_vocab_size_multiple=16, tie_embeddings=True)),
}

PROMPT = 16  # prefill_step prompt length (as in every golden case)
PROMPT_UNALIGNED = 21  # a prompt that is not a multiple of chunk_size: the prefill's final state crosses a padded chunk


def std_of(name):
    if name.endswith(("A_log", ".D", "dt_bias")) or "norm" in name:
        return 0.1
    if "conv1d" in name or name.endswith("bias"):
        return 0.05
    if "in_proj" in name:
        return 0.05
    return 0.02


def run_modes(model, ids):
    with torch.no_grad():
        out = {"parallel": model(ids).logits}
        params, steps = InferenceParams(max_seqlen=ids.shape[1], max_batch_size=ids.shape[0]), []
        params.seqlen_offset = 1  # every token through Mamba2.step() from the zero states
        for t in range(ids.shape[1]):
            steps.append(model(ids[:, t:t + 1], inference_params=params).logits[:, -1])
            params.seqlen_offset += 1
        out["recurrent"] = torch.stack(steps, dim=1)
        for key, prompt in (("prefill_step", PROMPT), ("prefill21_step", PROMPT_UNALIGNED)):
            params = InferenceParams(max_seqlen=ids.shape[1], max_batch_size=ids.shape[0])
            rows = [model(ids[:, :prompt], inference_params=params).logits]
            params.seqlen_offset += prompt
            for t in range(prompt, ids.shape[1]):
                rows.append(model(ids[:, t:t + 1], inference_params=params).logits)
                params.seqlen_offset += 1
            out[key] = torch.cat(rows, dim=1)
    return out


def scan_self_checks(model, dtype):
    """The wrapper (ssd_minimal_discrete) against the other official pure-PyTorch forms of the same scan, with the first
    layer's A, D and dt_bias and random x, dt, B, C (length 37): ssd_chunk_scan_combined_ref (chunked, on the whole chunks),
    ssd_selective_scan (sequential, selective_scan_ref) and the final state against selective_state_update_ref token by token."""
    mixer = model.backbone.layers[0].mixer
    gen = torch.Generator().manual_seed(5)
    b, l, h, p, g, n = 2, 37, mixer.nheads, mixer.headdim, mixer.ngroups, mixer.d_state
    x = torch.randn(b, l, h, p, generator=gen, dtype=dtype)
    dt = torch.randn(b, l, h, generator=gen, dtype=dtype) - 1
    B = torch.randn(b, l, g, n, generator=gen, dtype=dtype)
    C = torch.randn(b, l, g, n, generator=gen, dtype=dtype)
    A = -torch.exp(mixer.A_log.detach().to(dtype))
    D, bias = mixer.D.detach().to(dtype), mixer.dt_bias.detach().to(dtype)
    with torch.no_grad():
        ours, final = chunk_scan_minimal(x, dt, A, B, C, mixer.chunk_size, D=D, dt_bias=bias, dt_softplus=True, return_final_states=True)
        aligned = l - l % mixer.chunk_size  # chunk_scan_ref wants whole chunks
        chunked = ssd_chunk_scan_combined_ref(x[:, :aligned], dt[:, :aligned], A, B[:, :aligned], C[:, :aligned], mixer.chunk_size,
                                              D=D, dt_bias=bias, dt_softplus=True)
        sequential = ssd_selective_scan(x, dt, A, B, C, D=D, dt_bias=bias, dt_softplus=True)
        state = torch.zeros(b, h, p, n, dtype=dtype)
        for t in range(l):  # the final state through selective_state_update_ref, token by token
            selective_state_update_ref(state, x[:, t], repeat(dt[:, t], "b h -> b h p", p=p), repeat(A, "h -> h p n", p=p, n=n),
                                       B[:, t], C[:, t], dt_bias=repeat(bias, "h -> h p", p=p), dt_softplus=True)
    return {"minimal_vs_ssd_chunk_scan_combined_ref": float((ours[:, :aligned] - chunked).abs().max()),
            "minimal_vs_ssd_selective_scan": float((ours - sequential).abs().max()),
            "minimal_final_state_vs_selective_state_update_ref": float((final - state).abs().max())}


def write_safetensors(path, tensors):
    codes = {torch.float32: ("<f4", "F32"), torch.float64: ("<f8", "F64"), torch.int64: ("<i8", "I64")}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = t.numpy().astype(codes[t.dtype][0]).tobytes()
        header[name] = {"dtype": codes[t.dtype][1], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    case = CASES[sys.argv[1]]
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    config = case["config"]
    torch.manual_seed(case["seed"])
    model = MambaLMHeadModel(MambaConfig(**config)).eval()
    gen = torch.Generator().manual_seed(case["seed"] + 1000)
    stds = {}
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied weights appear once
            stds[name] = std_of(name)
            p.add_((torch.randn(p.shape, generator=gen, dtype=torch.float64) * stds[name]).to(p.dtype))
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    ids = torch.randint(0, config["vocab_size"], (2, 37), generator=torch.Generator().manual_seed(case["seed"] + 2000))

    f32 = run_modes(model, ids)
    checks32 = scan_self_checks(model, torch.float32)
    model64 = MambaLMHeadModel(MambaConfig(**config)).eval().double()
    model64.load_state_dict({k: v.double() for k, v in state.items()})
    with float64_lift():
        f64 = run_modes(model64, ids)
        checks64 = scan_self_checks(model64, torch.float64)
        changed = ids.clone(); changed[:, 0] = (changed[:, 0] + 1) % config["vocab_size"]
        with torch.no_grad():
            sensitivity = float((model64(changed).logits[:, -1] - f64["parallel"][:, -1]).abs().max())

    def diffs(d):
        return {f"parallel_vs_{k}": float((d["parallel"] - d[k]).abs().max()) for k in d if k != "parallel"}
    io = {"input_ids": ids}
    for k in f32:
        io[f"logits_{k}"] = f32[k].float()
        io[f"logits_{k}_f64"] = f64[k]
    write_safetensors(os.path.join(out, "model.safetensors"), state)
    write_safetensors(os.path.join(out, "io.safetensors"), io)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    mixer = model.backbone.layers[0].mixer
    meta = {
        "arch": "Mamba-2 (SSD) language model: MambaLMHeadModel with ssm_cfg layer Mamba2",
        "case": os.path.basename(os.path.normpath(out)), "repo": "https://github.com/state-spaces/mamba",
        "commit": "e9594ce1c732d97440f0332fdc43170a2294dbfa",
        "einops": {"repo": "arogozhnikov/einops", "commit": "ccb89f27599f26d7140a1bd2703305309fe3a3bd", "env_var": "EINOPS_SRC"},
        "script": "tests/golden-tools/make_mamba2_case.py " + sys.argv[1], "torch": torch.__version__,
        "files_used": [
            "mamba_ssm/models/mixer_seq_simple.py (MambaLMHeadModel, MixerModel, create_block, _init_weights)",
            "mamba_ssm/modules/mamba2.py (Mamba2.__init__, forward with use_mem_eff_path=False, step, _get_states_from_cache)",
            "mamba_ssm/modules/ssd_minimal.py (ssd_minimal_discrete, segsum)",
            "mamba_ssm/ops/triton/selective_state_update.py (selective_state_update_ref)",
            "mamba_ssm/ops/triton/layernorm_gated.py (RMSNorm module, rms_norm_ref)",
            "mamba_ssm/ops/triton/layer_norm.py (RMSNorm module, rms_norm_ref)",
            "mamba_ssm/ops/triton/ssd_combined.py (ssd_chunk_scan_combined_ref, ssd_selective_scan: self-checks only)",
            "mamba_ssm/modules/block.py (Block)", "mamba_ssm/modules/mlp.py (GatedMLP)", "mamba_ssm/models/config_mamba.py (MambaConfig)",
        ],
        "stubs": [
            "triton, triton.language: permissive placeholder modules (kernels are defined, never launched)",
            "causal_conv1d*, selective_scan_cuda: sys.modules[name] = None (ImportError: nn.Conv1d and the rolled conv_state run)",
            "huggingface_hub: placeholder module whose PyTorchModelHubMixin is an empty class (hub upload/download only)",
            "transformers*: placeholder modules (mamba_ssm/utils/{generation,hf}.py imports)",
            "mamba_ssm.modules.mamba3, mamba_ssm.modules.mha: placeholders (imported by mixer_seq_simple, unused)",
            "mamba_ssm: package registered without running its __init__.py",
        ],
        "runtime_patches": [
            "mamba2.mamba_chunk_scan_combined := chunk_scan_minimal (in the script): dt = softplus(dt + dt_bias) in float32 "
            "(dt.float() first, as the kernel's _chunk_cumsum_fwd does), clamp to dt_limit, then ssd_minimal_discrete(x*dt, A*dt, "
            "B and C repeated from groups to heads as 'b l g n -> b l (g h) n', chunk_size) with x*dt and A*dt zero-padded to a "
            "multiple of chunk_size AFTER the softplus, y cut to seqlen, y += D*x, returns the final state when asked",
            "mamba2.selective_state_update := selective_state_update_ref (Mamba2.step's triton branch, which handles ngroups; "
            "step's own pure-PyTorch branch asserts ngroups == 1)",
            "mamba2.causal_conv1d_fn, causal_conv1d_update := None (nn.Conv1d in forward, the rolled conv_state in step)",
            "layernorm_gated.RMSNorm.forward := rms_norm_ref(x, weight, bias, z, eps, group_size, norm_before_gate, upcast=True)",
            "layer_norm.RMSNorm.forward := rms_norm_ref(x, weight, bias, eps, upcast=True)",
        ],
        "norm_note": "the gated RMSNorm normalises each of the ngroups groups of d_ssm/ngroups channels separately "
                     "(group_size = d_ssm // ngroups); the fused mem-eff path passes the same group_size to its kernel",
        "dtype": "float32 primary (logits_<mode>); float64 in logits_<mode>_f64",
        "float64": "same weights widened exactly, model.double(), run inside float64_lift: Tensor.float() and Tensor.to(float32) "
                   "keep float64 tensors float64, so the upcasts the official code writes (A, dt, the norms, the residual, the step's "
                   "A) stay float64: a pure float64 run of the same code",
        "modes": {
            "parallel": "model(ids).logits (Mamba2.forward, chunked SSD)",
            "recurrent": "one token at a time through Mamba2.step() from zero states (InferenceParams.seqlen_offset >= 1 from token 0)",
            "prefill_step": f"first {PROMPT} tokens through forward with InferenceParams(seqlen_offset=0) (conv_state from the last "
                            "d_conv inputs, ssm_state = the chunk scan's final state), the rest through step()",
            "prefill21_step": f"the same with a {PROMPT_UNALIGNED}-token prompt (not a multiple of chunk_size: the final state "
                              "comes through a padded chunk)",
        },
        "weights": {
            "names": "MambaLMHeadModel.state_dict(): backbone.embedding.weight, backbone.layers.N.norm.weight, "
                     "backbone.layers.N.mixer.{in_proj.weight, conv1d.weight, conv1d.bias, dt_bias, A_log, D, norm.weight, "
                     "out_proj.weight}, backbone.norm_f.weight, lm_head.weight (+ norm2, mlp.fc1, mlp.fc2 with d_intermediate)",
            "in_proj_rows": "[z (d_ssm), x (d_ssm), B (ngroups*d_state), C (ngroups*d_state), dt (nheads)]; conv1d over [x, B, C]",
            "vocab_padded": model.lm_head.weight.shape[0],
            "derived": {"d_inner": mixer.d_inner, "d_ssm": mixer.d_ssm, "nheads": mixer.nheads, "headdim": mixer.headdim,
                        "ngroups": mixer.ngroups, "d_state": mixer.d_state, "chunk_size": mixer.chunk_size,
                        "group_of_head": "head h reads B/C group h // (nheads // ngroups)"},
        },
        "init": f"torch.manual_seed({case['seed']}); MambaLMHeadModel's own initialisation (Mamba2.__init__, _init_weights)",
        "perturbation": {"seed": case["seed"] + 1000, "how": "additive N(0, std) in float64, cast, in named_parameters() order",
                         "std": stds},
        "inputs": {"seed": case["seed"] + 2000, "how": "torch.randint(0, vocab_size, (2, 37))"},
        "self_checks": {
            "f32_max_abs": diffs(f32), "f64_max_abs": diffs(f64),
            "f32_vs_f64_parallel": float((f32["parallel"].double() - f64["parallel"]).abs().max()),
            "scan_f32": checks32, "scan_f64": checks64,
            "context_sensitivity_f64(last position, token 0 changed)": sensitivity,
            "logit_std_f64": float(f64["parallel"].std()),
        },
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta["self_checks"], indent=2))


if __name__ == "__main__":
    main()
