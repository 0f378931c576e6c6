using System.Text.Json;
using ArchLab.Mixers;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// BlinkDL's RWKV-7 "Goose" (x070) checkpoint (RWKV-LM <c>RWKV-v7/train_temp</c> state dict, converted to safetensors; the
/// layout the demos <c>rwkv_v7_demo.py</c>, <c>rwkv_v7_demo_fast.py</c> and <c>rwkv_v7_numpy.py</c> load): emb, blocks.0.ln0,
/// blocks.N.ln1/ln2, blocks.N.att.{x_r, x_w, x_k, x_v, x_a, x_g, w0, w1, w2, a0, a1, a2, v0, v1, v2, g1, g2, k_k, k_a, r_k,
/// receptance, key, value, output, ln_x}, blocks.N.ffn.{x_k, key, value}, ln_out, head (untied).
/// <para>Shapes decide what the config may leave out: the head size and head count come from r_k [H, N]; the four LoRA
/// widths from w1, a1, v1 (layer 1 on) and g1 [dim, D]; dim_ffn from ffn.key. A config field that disagrees with the
/// tensors is an error naming it. The weights are the raw training values; the runners' load-time transforms each have an
/// equivalent here:</para>
/// <list type="bullet">
/// <item>emb ← LN0(emb): ln0 stays a real layer, the model's embedding norm (the same per row).</item>
/// <item>x_*, w0, a0, v0, k_k, k_a squeezed from [1, 1, C] to [C]: done here. r_k stays [H, N].</item>
/// <item>blocks.0.att.v0/v1/v2: the first layer never reads them (the demos alias or ignore them); accepted if present and
/// dropped, so both training checkpoints (which have them) and released ones (which do not) load.</item>
/// <item>Linear weights transposed for x @ W (demo_fast): not needed, projections compute x·Wᵀ.</item>
/// </list>
/// </summary>
public sealed class Rwkv7Importer : IModelImporter
{
    static readonly HashSet<string> Fields =
    [
        "n_embd", "n_layer", "vocab_size", "head_size_a", "head_size", "dim_att", "dim_ffn", "ctx_len",
        "D_DECAY_LORA", "D_AAA_LORA", "D_MV_LORA", "D_GATE_LORA", "my_testing", "model_type",
    ];

    static readonly string[] MixParameters = ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "v0", "k_k", "k_a"];

    public string Name => Rwkv7.Name;

    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object && tensorNames.Contains("emb.weight") && tensorNames.Contains("blocks.0.att.r_k")
        && tensorNames.Contains("blocks.0.att.k_a");

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, Fields);
        foreach (var name in new[] { "my_testing", "model_type" })
            if (fields.String(name) is { } kind && !kind.Contains("x070", StringComparison.Ordinal) && !kind.Contains("RWKV-7", StringComparison.Ordinal))
                throw new ConfigException($"{source}: config field '{name}' is '{kind}': only RWKV-7 (x070) is supported");

        var shapes = TensorShapes(source);
        long[] Shape(string name) => shapes.TryGetValue(name, out var s) ? s
            : throw new CheckpointException($"{source}: missing tensor '{name}' (RWKV-7 reads its shapes from it)");
        int FromTensors(string field, long size)
        {
            if (fields.OptionalInt(field) is int stated && stated != size)
                throw new ConfigException($"{source}: config field '{field}' = {stated} disagrees with the weights ({size})");
            return checked((int)size);
        }

        var rk = Shape("blocks.0.att.r_k");
        if (rk.Length != 2) throw new CheckpointException($"{source}: 'blocks.0.att.r_k' must be [heads, head_size], got [{string.Join(", ", rk)}]");
        int dim = FromTensors("n_embd", Shape("emb.weight")[1]);
        int headSize = FromTensors(json.TryGetProperty("head_size", out _) ? "head_size" : "head_size_a", rk[1]);
        if (rk[0] * rk[1] != dim)
            throw new CheckpointException($"{source}: 'blocks.0.att.r_k' is [{rk[0]}, {rk[1]}] but n_embd is {dim}: heads × head_size must equal n_embd");
        if (fields.OptionalInt("dim_att") is int dimAtt && dimAtt > 0 && dimAtt != dim)
            throw new ConfigException($"{source}: config field 'dim_att' = {dimAtt} is not supported (RWKV-7's time mixing is n_embd wide: only {dim})");
        int layers = fields.OptionalInt("n_layer") ?? shapes.Keys.Count(k => k.StartsWith("blocks.", StringComparison.Ordinal) && k.EndsWith(".att.r_k", StringComparison.Ordinal));
        int Lora(string field, string tensor) => FromTensors(field, Shape(tensor)[^1]);

        return new ModelConfig
        {
            Arch = Rwkv7.Name,
            Dim = dim,
            Layers = layers,
            Heads = dim / headSize,
            VocabSize = FromTensors("vocab_size", Shape("emb.weight")[0]),
            FfnHidden = FromTensors("dim_ffn", Shape("blocks.0.ffn.key.weight")[0]),
            DecayLora = Lora("D_DECAY_LORA", "blocks.0.att.w1"),
            IclrLora = Lora("D_AAA_LORA", "blocks.0.att.a1"),
            ValueLora = layers > 1 ? Lora("D_MV_LORA", "blocks.1.att.v1") : fields.OptionalInt("D_MV_LORA"),
            GateLora = Lora("D_GATE_LORA", "blocks.0.att.g1"),
            NormEps = 1e-5, // nn.LayerNorm's default, which every RWKV-7 LayerNorm uses
            ContextLength = fields.OptionalInt("ctx_len") ?? 4096,
            TiedEmbeddings = false,
            EmbeddingNorm = true,
        }.Validate();
    }

    /// <summary>Tensor shapes of the model.safetensors next to the config (the LoRA widths and head size live only there).</summary>
    static Dictionary<string, long[]> TensorShapes(string configPath)
    {
        string weights = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath)) ?? ".", ModelCheckpoint.WeightsFile);
        if (!File.Exists(weights)) throw new CheckpointException($"{configPath}: RWKV-7 reads its head size and LoRA widths from {weights}, which does not exist");
        return Safetensors.ReadHeader(weights).ToDictionary(e => e.Key, e => e.Value.Shape);
    }

    /// <summary>(official name, ArchLab name) for every tensor of the layout.</summary>
    static IEnumerable<(string Official, string Ours)> Names(ModelConfig config)
    {
        foreach (var name in RwkvLayout.OuterNames()) yield return name;
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (var p in new[] { "weight", "bias" })
            {
                yield return ($"blocks.{i}.ln1.{p}", $"blocks.{i}.mixer_norm.{p}");
                yield return ($"blocks.{i}.ln2.{p}", $"blocks.{i}.mlp_norm.{p}");
                yield return ($"blocks.{i}.att.ln_x.{p}", $"blocks.{i}.mixer.ln_x.{p}");
            }
            foreach (var p in MixParameters.Concat(["w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2", "r_k"]))
                if (i > 0 || p is not ("v0" or "v1" or "v2"))
                    yield return ($"blocks.{i}.att.{p}", $"blocks.{i}.mixer.{p}");
            foreach (var p in new[] { "receptance", "key", "value", "output" })
                yield return ($"blocks.{i}.att.{p}.weight", $"blocks.{i}.mixer.{p}.weight");
            yield return ($"blocks.{i}.ffn.x_k", $"blocks.{i}.mlp.x_k");
            yield return ($"blocks.{i}.ffn.key.weight", $"blocks.{i}.mlp.key.weight");
            yield return ($"blocks.{i}.ffn.value.weight", $"blocks.{i}.mlp.value.weight");
        }
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        RwkvLayout.MapWeights(official, Names(config), IsVector, config.Dim);

    static bool IsVector(string name) => name.EndsWith(".ffn.x_k", StringComparison.Ordinal)
        || MixParameters.Any(p => name.EndsWith(".att." + p, StringComparison.Ordinal));

    /// <summary>The first layer's v0/v1/v2, which it never reads.</summary>
    public IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        new[] { "v0", "v1", "v2" }.Select(p => $"blocks.0.att.{p}").Where(official.ContainsKey);

    public string OfficialName(string archlabName) => RwkvLayout.OfficialName(archlabName);
}
