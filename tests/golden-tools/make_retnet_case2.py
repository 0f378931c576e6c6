"""Golden cases for torchscale's RetNetDecoder embedding options, untied head, float32 logits in three official modes:
  retnet/case2_d48_lnemb_scaled  layernorm_embedding=True (an RMSNorm after the embedding), no_scale_embedding=False
  retnet/case3_d48_scaled        no_scale_embedding=False (embeddings times sqrt(d)) alone, where the scale is visible
                                 (behind the RMSNorm of case 2 it cancels up to eps)

Run with Debian's PyTorch (apt-get install python3-torch python3-numpy):
  TORCHSCALE_SRC=/path/to/microsoft/torchscale@4d1e0e82 /usr/bin/python3 tests/golden-tools/make_retnet_case2.py OUT_DIR [--no-layernorm-embedding]
Stubs, as for case 1: fairscale and timm are imported but unused (no checkpointing, drop_path_rate 0); apex, fairseq,
tutel, flash_attn, xformers are forced absent; einops (imported by the unused multihead_attention.py) is a stub that raises if called so the code falls back to plain PyTorch.
"""
import json, math, os, struct, sys, types

sys.path.insert(0, os.environ["TORCHSCALE_SRC"])
for name in ["fairscale", "fairscale.nn", "timm", "timm.models", "timm.models.layers"]:
    sys.modules[name] = types.ModuleType(name)
sys.modules["fairscale.nn"].checkpoint_wrapper = lambda m, **k: m
sys.modules["fairscale.nn"].wrap = lambda m, **k: m
sys.modules["timm.models.layers"].drop_path = lambda x, *a, **k: x
sys.modules["einops"] = types.ModuleType("einops")  # imported by multihead_attention.py, which RetNet does not use
sys.modules["einops"].rearrange = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("einops stub called"))
for name in ["apex", "fairseq", "tutel", "flash_attn", "xformers"]:
    sys.modules[name] = None

import numpy as np
import torch
from torchscale.architecture.config import RetNetConfig
from torchscale.architecture.retnet import RetNetDecoder

torch.set_num_threads(1)
out = sys.argv[1]
layernorm_embedding = "--no-layernorm-embedding" not in sys.argv[2:]
os.makedirs(out, exist_ok=True)

config = dict(
    decoder_embed_dim=48, decoder_value_embed_dim=96, decoder_retention_heads=3, decoder_ffn_embed_dim=96, decoder_layers=2,
    decoder_normalize_before=True, activation_fn="swish", dropout=0.0, drop_path_rate=0.0, activation_dropout=0.0,
    no_scale_embedding=False, layernorm_embedding=layernorm_embedding, share_decoder_input_output_embed=False, layernorm_eps=1e-6,
    chunkwise_recurrent=False, recurrent_chunk_size=8, vocab_size=97, max_target_positions=1024, subln=True,
)

torch.manual_seed(1202)
embed = torch.nn.Embedding(config["vocab_size"], config["decoder_embed_dim"])
torch.nn.init.normal_(embed.weight, mean=0, std=config["decoder_embed_dim"] ** -0.5)
model = RetNetDecoder(RetNetConfig(**config), embed_tokens=embed).eval()
gen = torch.Generator().manual_seed(2202)
with torch.no_grad():
    for name, p in model.named_parameters():
        std = 0.1 if "norm" in name else 0.02
        p.add_((torch.randn(p.shape, generator=gen, dtype=torch.float64) * std).to(p.dtype))

state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}

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

ids = torch.randint(0, config["vocab_size"], (2, 37), generator=torch.Generator().manual_seed(3202))
with torch.no_grad():
    parallel = model(ids)[0]
    incremental, steps = {}, []
    for t in range(ids.shape[1]):
        steps.append(model(ids[:, : t + 1], incremental_state=incremental)[0][:, -1])
    recurrent = torch.stack(steps, dim=1)
    chunk_config = dict(config, chunkwise_recurrent=True)
    chunk_model = RetNetDecoder(RetNetConfig(**chunk_config), embed_tokens=torch.nn.Embedding(97, 48)).eval()
    chunk_model.load_state_dict(state)
    chunkwise = chunk_model(ids)[0]

write_safetensors(os.path.join(out, "model.safetensors"), state)
write_safetensors(os.path.join(out, "io.safetensors"), {
    "input_ids": ids, "logits_parallel_f32": parallel.float(), "logits_recurrent_f32": recurrent.float(), "logits_chunkwise_f32": chunkwise.float(),
})
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
meta = {
    "arch": "RetNet decoder (torchscale RetNetDecoder) with a scaled embedding" + (" and layernorm_embedding" if layernorm_embedding else ""),
    "case": os.path.basename(os.path.normpath(out)),
    "repo": "https://github.com/microsoft/torchscale", "commit": "4d1e0e82e5adf86dd424f1463192635b73fc8efc",
    "script": "tests/golden-tools/make_retnet_case2.py" + ("" if layernorm_embedding else " --no-layernorm-embedding"),
    "torch": torch.__version__, "dtype": "float32 only (the official RMSNorm computes in float32 via x.float())",
    "embed_scale": math.sqrt(config["decoder_embed_dim"]),
    "modes": "parallel = model(ids); recurrent = model(ids[:, :t+1], incremental_state) per token; chunkwise = chunkwise_recurrent=True, chunk 8",
    "init": "torch.manual_seed(1202); Embedding normal(0, d^-0.5); RetNetDecoder's own init; then additive N(0, 0.1) on norm weights (incl. layernorm_embedding) and N(0, 0.02) on the rest (generator seed 2202)",
    "input_ids": "torch.randint(0, 97, (2, 37)) with generator seed 3202",
    "self_check_parallel_vs_recurrent_max_abs": float((parallel - recurrent).abs().max()),
}
with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump(meta, f, indent=2)
print("wrote", out, "parallel vs recurrent", meta["self_check_parallel_vs_recurrent_max_abs"])
