using System.Text.Json;
using System.Text.Json.Serialization;
using ArchLab.Models;

namespace ArchLab.Scaling;

/// <summary>
/// A scaling sweep, read from a JSON file (snake_case, like <see cref="ModelConfig"/>): every architecture × every size ×
/// every budget is one training run. Budgets are either token counts (<see cref="TokenBudgets"/>) or training compute in
/// FLOPs (<see cref="ComputeBudgets"/>, IsoFLOP: tokens = C / training FLOPs per token of that model). Everything else is
/// shared by all runs; the learning-rate schedule (warmup + cosine) spans each run's own length.
/// </summary>
public sealed partial record SweepSpec
{
    /// <summary>Names the sweep (and its results folder, experiments/&lt;name&gt;/, by convention).</summary>
    public string Name { get; init; } = "";
    /// <summary>Architecture names, or entries with a hybrid layer pattern and/or their own size ladder (<see cref="SweepArchitecture"/>).</summary>
    public SweepArchitecture[] Architectures { get; init; } = [];
    /// <summary>The size ladder of every architecture that gives none of its own.</summary>
    public SweepSize[] Sizes { get; init; } = [];
    public double[]? ComputeBudgets { get; init; }
    public long[]? TokenBudgets { get; init; }

    /// <summary>'brown' or text files/folders, as for <c>archlab train --data</c>.</summary>
    public string[] Data { get; init; } = ["brown"];
    public string Tokenizer { get; init; } = "byte";
    /// <summary>Model vocabulary; must hold the tokenizer's (256 for bytes).</summary>
    public int VocabSize { get; init; } = 256;
    public int SeqLen { get; init; } = 64;
    public int BatchSize { get; init; } = 8;
    public double LearningRate { get; init; } = 3e-3;
    public double MinLrRatio { get; init; } = 0.1;
    /// <summary>Warmup as a fraction of each run's steps.</summary>
    public double WarmupFraction { get; init; } = 0.05;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public int EvalBatches { get; init; } = 16;
    /// <summary>Training-loss points recorded per run (the loss curve).</summary>
    public int CurvePoints { get; init; } = 20;
    public int Seed { get; init; } = 1337;
    /// <summary>More runs of the same shapes with other seeds at chosen budgets (the fits average them per shape and budget).</summary>
    public ExtraSeeds? ExtraSeeds { get; init; }
    /// <summary>IsoFLOP runs with fewer (or more) training tokens per non-embedding parameter are left out of the plan, so
    /// each budget trains only the rungs of the ladder around its optimum (null: no bound).</summary>
    public double? MinTokensPerParam { get; init; }
    public double? MaxTokensPerParam { get; init; }
    /// <summary>Tokens per non-embedding parameter `sweep plan` expects at the optimum, to say whether a budget's planned
    /// best size is at an end of its ladder before any run has finished.</summary>
    public double PlannedTokensPerParam { get; init; } = 20;
    /// <summary>Runs that would train fewer steps are left out of the plan (IsoFLOP budgets too small for a size).</summary>
    public int MinSteps { get; init; } = 20;
    /// <summary>Size ladder: width per attention head, and the preferred width/depth ratio (dim / layers).</summary>
    public int HeadDim { get; init; } = 32;
    public int DimMultiple { get; init; } = 16;
    public double AspectRatio { get; init; } = 32;
    /// <summary>libtorch threads per run (worker process).</summary>
    public int Threads { get; init; } = 1;

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")]
    private static partial System.Text.RegularExpressions.Regex SafeName();

    public SweepSpec Validate()
    {
        static ConfigException Bad(string message) => new($"sweep spec: {message}");
        // The name becomes a folder and a Slurm job name in a shell script: only characters that need no quoting anywhere.
        if (Name is null || !SafeName().IsMatch(Name))
            throw Bad($"'name' must be 1–100 letters, digits, '.', '_' or '-' (not starting with '.'), got {System.Text.Json.JsonSerializer.Serialize(Name)}");
        if (Architectures is null || Architectures.Length == 0) throw Bad("'architectures' is empty");
        foreach (var a in Architectures) (a ?? throw Bad("an 'architectures' entry is null")).Validate();
        if (Architectures.GroupBy(a => a.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw Bad($"architecture '{twice.Key}' appears twice (give hybrids their own 'name')");
        if (Sizes is null) throw Bad("'sizes' is null");
        foreach (var s in Sizes) s.Validate();
        foreach (var a in Architectures)
        {
            if (LadderOf(a).Length == 0) throw Bad($"'{a.Name}' has no sizes: give 'sizes' for the sweep or for the entry");
            foreach (var s in LadderOf(a))
                if (s.Layers is int layers && layers % a.PatternLength != 0)
                    throw Bad($"'{a.Name}': {layers} layers is not a whole number of its {a.PatternLength}-layer pattern (give the entry its own 'sizes')");
        }
        if ((ComputeBudgets is null) == (TokenBudgets is null)) throw Bad("give exactly one of 'compute_budgets' and 'token_budgets'");
        if (ComputeBudgets is { } c && (c.Length == 0 || c.Any(x => !(x > 0) || !double.IsFinite(x)))) throw Bad("'compute_budgets' must be positive FLOP counts");
        if (TokenBudgets is { } t && (t.Length == 0 || t.Any(x => x <= 0))) throw Bad("'token_budgets' must be positive token counts");
        void Positive(string name, double v) { if (!(v > 0)) throw Bad($"'{name}' must be positive, got {v}"); }
        Positive("vocab_size", VocabSize); Positive("seq_len", SeqLen); Positive("batch_size", BatchSize);
        Positive("learning_rate", LearningRate); Positive("eval_batches", EvalBatches); Positive("curve_points", CurvePoints);
        Positive("min_steps", MinSteps); Positive("head_dim", HeadDim); Positive("dim_multiple", DimMultiple);
        Positive("aspect_ratio", AspectRatio); Positive("threads", Threads);
        if (ExtraSeeds is { } extra) extra.Validate(ComputeBudgets, TokenBudgets, Seed);
        if (MinTokensPerParam is double lo && !(lo > 0)) throw Bad($"'min_tokens_per_param' must be positive, got {lo}");
        if (MaxTokensPerParam is double hi && !(hi > 0)) throw Bad($"'max_tokens_per_param' must be positive, got {hi}");
        if (MinTokensPerParam > MaxTokensPerParam) throw Bad($"'min_tokens_per_param' ({MinTokensPerParam}) is above 'max_tokens_per_param' ({MaxTokensPerParam})");
        Positive("planned_tokens_per_param", PlannedTokensPerParam);
        if (WarmupFraction is < 0 or >= 1) throw Bad($"'warmup_fraction' must be in [0, 1), got {WarmupFraction}");
        if (MinLrRatio is < 0 or > 1) throw Bad($"'min_lr_ratio' must be in [0, 1], got {MinLrRatio}");
        return this;
    }

    /// <summary>The sizes an architecture entry is swept over: its own, or the sweep's.</summary>
    public SweepSize[] LadderOf(SweepArchitecture arch) => arch.Sizes ?? Sizes;

    public string ToJson() => JsonSerializer.Serialize(this, ModelConfig.Json);

    public static SweepSpec FromJson(string json, string source = "sweep spec")
    {
        try { return (JsonSerializer.Deserialize<SweepSpec>(json, ModelConfig.Json) ?? throw new ConfigException($"{source}: empty")).Validate(); }
        catch (JsonException e) { throw new ConfigException($"{source}: invalid sweep spec: {IO.JsonErrors.Describe(e)}"); }
    }

    public static SweepSpec Load(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"sweep spec '{path}' does not exist");
        return FromJson(IO.InputFile.ReadAllText(path, "sweep spec"), path);
    }
}

/// <summary>
/// One architecture of a sweep. In JSON either a mixer name (a registered <c>arch</c>) or an object naming a hybrid and
/// its repeated layer pattern: <c>{ "name": "hybrid-a3-b1", "layer_pattern": [A, A, A, B], "sizes": [...] }</c> with A and
/// B mixer names (experiments/scaling-study/spec.json has one).
/// A layer pattern (mixer names, as <c>--config</c>'s <c>layer_pattern</c> takes them) is repeated over the depth, so every
/// size of the entry has a multiple of its length in layers. <c>sizes</c>, when given, replaces the sweep's ladder for this
/// entry. The name labels the runs (ids, fits, charts).
/// </summary>
[JsonConverter(typeof(SweepArchitectureConverter))]
public sealed partial record SweepArchitecture
{
    public string Name { get; init; } = "";
    /// <summary>Mixer of every layer (when there is no <see cref="LayerPattern"/>); defaults to <see cref="Name"/>.</summary>
    public string? Arch { get; init; }
    public string[]? LayerPattern { get; init; }
    public SweepSize[]? Sizes { get; init; }

    /// <summary>The mixer of a plain entry, or the first mixer of a pattern.</summary>
    [JsonIgnore] public string FirstMixer => LayerPattern is { Length: > 0 } p ? p[0] : Arch ?? Name;
    /// <summary>What runs, fits and charts call this entry: the canonical mixer name of a plain entry, else <see cref="Name"/>.</summary>
    [JsonIgnore] public string Label => LayerPattern is null && Arch is null ? Mixers.MixerRegistry.Canonical(Name) : Name;
    [JsonIgnore] public int PatternLength => LayerPattern?.Length ?? 1;
    [JsonIgnore] public bool IsPlain => LayerPattern is null && Sizes is null && (Arch is null || Arch == Name);

    public static SweepArchitecture Plain(string name) => new() { Name = name };

    public void Validate()
    {
        static ConfigException Bad(string message) => new($"sweep spec: {message}");
        string known = string.Join(", ", Mixers.MixerRegistry.Names);
        if (Name is null || !SafeEntryName().IsMatch(Name))
            throw Bad($"architecture name must be 1–60 letters, digits, '_' or '-', got {JsonSerializer.Serialize(Name)}");
        if (LayerPattern is { } pattern)
        {
            if (Arch is not null) throw Bad($"'{Name}': give 'arch' or 'layer_pattern', not both");
            if (pattern.Length == 0) throw Bad($"'{Name}': 'layer_pattern' is empty");
            foreach (var m in pattern)
                if (m is null || !Mixers.MixerRegistry.IsKnown(m)) throw Bad($"'{Name}': unknown mixer '{m}' in 'layer_pattern' (known: {known})");
        }
        else if (!Mixers.MixerRegistry.IsKnown(Arch ?? Name))
            throw Bad($"unknown architecture '{Arch ?? Name}' (known: {known}; a hybrid entry gives 'name' and 'layer_pattern')");
        if (Sizes is { } sizes)
        {
            if (sizes.Length == 0) throw Bad($"'{Name}': 'sizes' is empty");
            foreach (var s in sizes) (s ?? throw Bad($"'{Name}': a size is null")).Validate();
        }
    }

    /// <summary>The per-layer mixers of a model <paramref name="layers"/> deep: the pattern repeated (null for a plain entry).</summary>
    public string[]? PatternFor(int layers)
    {
        if (LayerPattern is not { } p) return null;
        if (layers % p.Length != 0) throw new ConfigException($"sweep spec: '{Name}': {layers} layers is not a whole number of its {p.Length}-layer pattern");
        return Enumerable.Range(0, layers).Select(i => Mixers.MixerRegistry.Canonical(p[i % p.Length])).ToArray();
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_-]{1,60}$")]
    private static partial System.Text.RegularExpressions.Regex SafeEntryName();
}

/// <summary>Reads an architecture entry from a name or an object; writes plain entries back as names.</summary>
public sealed class SweepArchitectureConverter : JsonConverter<SweepArchitecture>
{
    public override SweepArchitecture? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return SweepArchitecture.Plain(reader.GetString()!);
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("an 'architectures' entry must be a name or an object with 'name' and 'layer_pattern' or 'arch'");
        var body = JsonSerializer.Deserialize<Body>(ref reader, options)!;
        return new SweepArchitecture { Name = body.Name!, Arch = body.Arch, LayerPattern = body.LayerPattern, Sizes = body.Sizes };
    }

    public override void Write(Utf8JsonWriter writer, SweepArchitecture value, JsonSerializerOptions options)
    {
        if (value.IsPlain) writer.WriteStringValue(value.Name);
        else JsonSerializer.Serialize(writer, new Body { Name = value.Name, Arch = value.Arch, LayerPattern = value.LayerPattern, Sizes = value.Sizes }, options);
    }

    sealed record Body
    {
        public string? Name { get; init; }
        public string? Arch { get; init; }
        public string[]? LayerPattern { get; init; }
        public SweepSize[]? Sizes { get; init; }
    }
}

/// <summary>Runs repeated with each of <see cref="Seeds"/> (besides the spec's own seed) at each of <see cref="Budgets"/>.</summary>
public sealed record ExtraSeeds
{
    public int[] Seeds { get; init; } = [];
    /// <summary>Compute budgets (or token budgets) of the spec at which every shape is also trained with these seeds.</summary>
    public double[] Budgets { get; init; } = [];

    public void Validate(double[]? computeBudgets, long[]? tokenBudgets, int specSeed)
    {
        static ConfigException Bad(string message) => new($"sweep spec: 'extra_seeds': {message}");
        if (Seeds is null || Seeds.Length == 0) throw Bad("'seeds' is empty");
        if (Seeds.Distinct().Count() != Seeds.Length || Seeds.Contains(specSeed)) throw Bad($"seeds must differ from each other and from 'seed' ({specSeed})");
        if (Budgets is null || Budgets.Length == 0) throw Bad("'budgets' is empty");
        var planned = computeBudgets ?? tokenBudgets?.Select(t => (double)t).ToArray() ?? [];
        foreach (var b in Budgets)
            if (!planned.Contains(b)) throw Bad($"{SweepPlanner.Label(b)} is not one of the sweep's budgets ({string.Join(", ", planned.Select(SweepPlanner.Label))})");
    }
}

/// <summary>One rung of the size ladder: a target non-embedding parameter count, or an explicit shape.</summary>
public sealed record SweepSize
{
    public long? TargetParams { get; init; }
    public int? Dim { get; init; }
    public int? Layers { get; init; }
    public int? Heads { get; init; }

    public void Validate()
    {
        bool target = TargetParams is not null, shape = Dim is not null || Layers is not null;
        if (target == shape) throw new ConfigException("sweep spec: each size gives either 'target_params' or 'dim' and 'layers'");
        if (target && TargetParams <= 0) throw new ConfigException($"sweep spec: 'target_params' must be positive, got {TargetParams}");
        if (shape && (Dim is not > 0 || Layers is not > 0)) throw new ConfigException("sweep spec: an explicit size needs positive 'dim' and 'layers'");
    }
}
