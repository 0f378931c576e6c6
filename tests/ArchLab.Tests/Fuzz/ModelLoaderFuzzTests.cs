using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using CsCheck;
using static TorchSharp.torch;

namespace ArchLab.Tests.Fuzz;

/// <summary>The model loader (ArchLab and the four official layouts) on folders with mutated configs and tensors: it loads
/// them or throws <see cref="ConfigException"/>, <see cref="CheckpointException"/> or <see cref="SafetensorsFormatException"/>.</summary>
public sealed class ModelLoaderFuzzTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("archlab-fuzz-load-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    sealed record Base(string Config, Dictionary<string, Tensor> Tensors);

    static readonly Base[] Bases = MakeBases();

    static Base[] MakeBases()
    {
        var bases = new List<Base>();
        foreach (var (arch, name) in new[]
                 {
                     ("llama", "case1_d64_h4_mha"), ("retnet", "case1_d48_h3_v96_swish"), ("rwkv4", "case1_d32_L2_ffn128"),
                     ("mamba", "case1_d48_state8_expand2_tied"),
                 })
            bases.Add(Read(new GoldenCase(arch, name).Dir));
        string own = Path.Combine(Path.GetTempPath(), $"archlab-fuzz-own-{Guid.NewGuid():N}");
        var config = new ModelConfig { Arch = "mamba", Dim = 16, Heads = 2, Layers = 3, VocabSize = 40, LayerPattern = ["rwkv4", "transformer", "mamba"] };
        using (var model = new LanguageModel(config)) ModelCheckpoint.Save(own, model);
        bases.Add(Read(own));
        Directory.Delete(own, recursive: true);
        return [.. bases];
    }

    static Base Read(string folder)
    {
        using var file = Safetensors.Read(Path.Combine(folder, ModelCheckpoint.WeightsFile));
        return new Base(File.ReadAllText(Path.Combine(folder, ModelCheckpoint.ConfigFile)),
                        file.Tensors.ToDictionary(t => t.Key, t => t.Value.clone()));
    }

    static readonly string[] FieldNames =
    [
        "dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "multiple_of", "ffn_dim_multiplier", "norm_eps", "rope_theta",
        "max_seq_len", "use_scaled_rope", "d_model", "d_intermediate", "n_layer", "ssm_cfg", "attn_layer_idx", "attn_cfg", "rms_norm",
        "pad_vocab_size_multiple", "tie_embeddings", "decoder_embed_dim", "decoder_value_embed_dim", "decoder_retention_heads",
        "decoder_ffn_embed_dim", "decoder_layers", "layernorm_embedding", "no_scale_embedding", "recurrent_chunk_size",
        "chunkwise_recurrent", "activation_fn", "n_embd", "dim_att", "dim_ffn", "ctx_len", "model_type", "arch", "layers", "heads",
        "kv_heads", "ffn_hidden", "context_length", "layer_pattern", "norm", "mlp", "value_dim", "d_state", "d_conv", "expand",
        "dt_rank", "embedding_norm", "position_embedding", "glu_activation", "retention_chunk_size", "tied_embeddings",
    ];

    static readonly string[] Formats = ["auto", "auto", "auto", "archlab", "llama", "retnet", "rwkv4", "mamba"];

    /// <summary>One edit of the tensors: drop, reshape, retype, add, rename or scalarise the k-th tensor.</summary>
    static void EditTensors(Dictionary<string, Tensor> tensors, Mutation m)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0) return;
        string name = names[m.Position % names.Count];
        var t = tensors[name];
        switch (m.Kind % 6)
        {
            case 0: tensors.Remove(name); break;
            case 1: tensors[name] = zeros([.. t.shape.Select((d, i) => i == m.Value % Math.Max(1, t.shape.Length) ? d + 1 : d)], t.dtype); break;
            case 2: tensors[name] = t.to(new[] { ScalarType.Int64, ScalarType.Bool, ScalarType.Float16, ScalarType.Float64 }[m.Value % 4]); break;
            case 3: tensors[$"extra.{m.Value}"] = zeros(2); break;
            case 4: tensors.Remove(name); tensors[name.Replace(".0.", $".{m.Value % 5}.").Replace("weight", "bias")] = t; break;
            default: tensors[name] = tensor(1.0f); break;
        }
    }

    static readonly Gen<(int Base, Mutation[] Config, (int Field, int Value)[] Fields, Mutation[] Tensors, int Format)> Inputs =
        Gen.Select(Gen.Int[0, 4], Mutation.Gen.Array[0, 3], Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 1000]).Array[0, 2],
                   Mutation.Gen.Array[0, 2], Gen.Int[0, Formats.Length - 1], (b, c, f, t, fmt) => (b, c, f, t, fmt));

    static string EditConfig(string config, Mutation[] tokenEdits, (int Field, int Value)[] added)
    {
        config = Mutation.ApplyToJson(config, tokenEdits);
        int brace = config.IndexOf('{');
        foreach (var (field, value) in added)
        {
            if (brace < 0) break;
            string json = value % 2 == 0 ? Mutation.Numbers[value / 2 % Mutation.Numbers.Length] : Mutation.Values[value / 2 % Mutation.Values.Length];
            config = config.Insert(brace + 1, $"\"{FieldNames[field % FieldNames.Length]}\": {json},");
        }
        return config;
    }

    [Fact]
    public void MutatedModelFoldersLoadOrFailNamingTheProblem()
    {
        var run = new FuzzRun("model loader", typeof(ConfigException), typeof(CheckpointException), typeof(SafetensorsFormatException));
        run.Sample(Inputs, input =>
        {
            var source = Bases[input.Base % Bases.Length];
            File.WriteAllText(Path.Combine(dir, ModelCheckpoint.ConfigFile), EditConfig(source.Config, input.Config, input.Fields));
            var tensors = new Dictionary<string, Tensor>(source.Tensors);
            foreach (var m in input.Tensors) EditTensors(tensors, m);
            Safetensors.Write(Path.Combine(dir, ModelCheckpoint.WeightsFile), tensors);
            using var scope = NewDisposeScope();
            using var model = ModelLoader.Load(dir, Formats[input.Format]);
            Assert.True(ModelSize.Parameters(model.Config) == model.parameters().Sum(p => p.numel()), "the size estimate counts every parameter");
        }, FuzzRun.Iterations(quick: 300, campaign: 3_000),
           print: i => $"base {i.Base}, format {Formats[i.Format]}, config {Mutation.Describe(i.Config)} + fields {string.Join(" ", i.Fields)}, tensors {Mutation.Describe(i.Tensors)}");
    }
}
