using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Kernels;
using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RWKV-7 "Goose" time mixing (Peng et al. 2025, "RWKV-7 Goose with Expressive Dynamic State Evolution"; BlinkDL RWKV-LM
/// <c>RWKV-v7/rwkv_v7_demo.py</c> RWKV_Tmix_x070, checked number for number against it, its RNN form in
/// <c>rwkv_v7_demo_fast.py</c> and the numpy reference <c>rwkv_v7_numpy.py</c>). Per token, with x' the previous token's input:
/// <list type="bullet">
/// <item>token shift: six inputs x_• = x + (x' − x) ⊙ μ_• for r, w, k, v, a, g;</item>
/// <item>r = W_r x_r, k = W_k x_k, v = W_v x_v; decay w = exp(−exp(−softplus(−(w0 + tanh(x_w W1) W2)) − ½)) ∈ (0.545, 1) per channel;
/// in-context learning rate a = σ(a0 + x_a A1 A2); gate g = σ(x_g G1) G2 (the four low-rank "LoRA" maps);</item>
/// <item>value residual: later layers mix in the first RWKV-7 layer's value, v ← v + (v_first − v) ⊙ σ(v0 + x_v V1 V2)
/// (<see cref="Rwkv7ValueResidual"/>);</item>
/// <item>κ̂ = normalize_head(k ⊙ k_k) (L2 per head), k ← k ⊙ (1 + (a − 1) ⊙ k_a);</item>
/// <item>WKV, the generalised delta rule per head (<see cref="Wkv7Reference"/>): S = S·diag(w) − (S·κ̂)(a ⊙ κ̂)ᵀ + v·kᵀ, y = S·r;</item>
/// <item>output: W_o (g ⊙ (GroupNorm_heads(y; eps 64e-5) + (Σ_head r ⊙ k ⊙ r_k) v)).</item>
/// </list>
/// Parameter names and shapes follow the official checkpoint (x_* and the *0 biases squeezed to [dim]; r_k [heads, N];
/// w1/a1/v1/g1 [dim, D], w2/a2/v2/g2 [D, dim]). The first RWKV-7 layer has no v0/v1/v2 (the official one has them but never
/// reads them). Whole sequences run the chunked WKV by default (<see cref="UseChunkedWkv"/>; matmuls, the reference and cpu
/// scan backends) or, with the ilgpu backend (or auto on CUDA tensors when ILGPU has CUDA), the ILGPU kernel
/// (<see cref="IlgpuWkv7Function"/>, whatever <see cref="UseChunkedWkv"/> says); single steps run the recurrence.
/// </summary>
public sealed class Rwkv7TimeMix : Mixer, ILeanConvertible
{
    public readonly Parameter x_r, x_w, x_k, x_v, x_a, x_g, w0, w1, w2, a0, a1, a2, g1, g2, k_k, k_a, r_k;
    public readonly Parameter? v0, v1, v2; // null in the first RWKV-7 layer
    public readonly Projection receptance, key, value, output;
    public readonly GroupNorm ln_x;
    readonly int dim, heads, headSize, layer;
    readonly Rwkv7ValueResidual valueResidual;

    /// <summary>The GroupNorm epsilon of the official code (fixed, "notice eps value").</summary>
    public const double GroupNormEps = 64e-5;

    /// <summary>Whole sequences through <see cref="Wkv7Reference.Chunked"/> (default) or the token loop <see cref="Wkv7Reference.Recurrent"/>
    /// (the reference and cpu scan backends; the ilgpu backend runs its kernel either way).</summary>
    public bool UseChunkedWkv { get; set; } = true;

    /// <summary>Tokens per chunk of the chunked WKV.</summary>
    public int Chunk { get; set; } = Wkv7Reference.DefaultChunk;

    public bool IsFirstLayer => v0 is null;

    /// <summary>RWKV-7's blocks: LayerNorm, its own channel mix, ln0 on the embedding (BlinkDL's RWKV-7); the official init
    /// (it depends on the layer's depth); imports BlinkDL's RWKV-7 checkpoints.</summary>
    public static readonly MixerSpec Spec = new("rwkv7", (config, layer, _) => new Rwkv7TimeMix(config, layer))
    {
        DefaultNorm = "layernorm",
        DefaultMlp = "rwkv7_channel_mix",
        EmbeddingNorm = true,
        TrainingForms = [new("chunked", (config, _) => config)],
        UsesScanBackend = true,
        Importer = new Checkpoints.Importers.Rwkv7Importer(),
        ValidateConfig = config =>
        {
            config.Rwkv.Validate();
            if (config.Dim % config.Heads != 0) throw new ConfigException($"model config: 'dim' ({config.Dim}) must be divisible by 'heads' ({config.Heads})");
            foreach (var (name, rank) in new[] { ("decay_lora", config.DecayLora), ("iclr_lora", config.IclrLora), ("value_lora", config.ValueLora), ("gate_lora", config.GateLora) })
                if (rank is int r && (r <= 0 || r > ModelLimits.Width))
                    throw new ConfigException($"model config: '{name}' must be in 1..{ModelLimits.Width}, got {r}");
        },
        ParameterCount = (config, layer) =>
        {
            double dim = config.Dim, valueLora = config.ValueLora ?? Rwkv7.SuggestedLora(config.Dim, 1.7);
            double loras = (config.DecayLora ?? Rwkv7.SuggestedLora(config.Dim, 2.5)) + (config.IclrLora ?? Rwkv7.SuggestedLora(config.Dim, 2.5))
                           + valueLora + (config.GateLora ?? Rwkv7.SuggestedLora(config.Dim, 5));
            double all = 4 * dim * dim + 2 * dim * loras + 14 * dim; // r, k, v, o; the LoRA pairs; x_*, w0, a0, v0, k_k, k_a, r_k, ln_x
            return Rwkv7.IsFirstLayer(config, layer) ? all - 2 * dim * valueLora - dim : all; // the first has no value residual
        },
        StateElements = config => config.Dim + (double)config.Dim * (config.Dim / config.Heads), // token shift, WKV state H·N²
    };

    public Rwkv7TimeMix(ModelConfig config, int layer) : this(config, layer, Rwkv7ValueResidual.For(config)) { }

    public Rwkv7TimeMix(ModelConfig config, int layer, Rwkv7ValueResidual valueResidual) : base(nameof(Rwkv7TimeMix))
    {
        dim = config.Dim;
        heads = config.Heads;
        headSize = (config.Dim / config.Heads);
        this.layer = layer;
        this.valueResidual = valueResidual;
        if (config.Rwkv.DimAttention != dim)
            throw new ConfigException($"model config: RWKV-7 needs 'dim_att' equal to 'dim' (its receptance, key, value and output are dim×dim), got dim_att {config.Rwkv.DimAttention} and dim {dim}");
        int decayLora = config.DecayLora ?? Rwkv7.SuggestedLora(dim, 2.5), iclrLora = config.IclrLora ?? Rwkv7.SuggestedLora(dim, 2.5);
        int valueLora = config.ValueLora ?? Rwkv7.SuggestedLora(dim, 1.7), gateLora = config.GateLora ?? Rwkv7.SuggestedLora(dim, 5);

        // the official init (RWKV_Tmix_x070.__init__, then generate_init_weight for the dim×dim matrices)
        var (zeroToOne, oneToAlmostZero) = Rwkv7.Ratios(layer, config.Layers);
        var (linear, zigzag, decayBase) = Rwkv7.Curves(dim, headSize, zeroToOne);
        x_r = new Parameter(Rwkv7.ShiftMix(dim, 0.2 * oneToAlmostZero));
        x_w = new Parameter(Rwkv7.ShiftMix(dim, 0.9 * oneToAlmostZero));
        x_k = new Parameter(Rwkv7.ShiftMix(dim, 0.7 * oneToAlmostZero));
        x_v = new Parameter(Rwkv7.ShiftMix(dim, 0.7 * oneToAlmostZero));
        x_a = new Parameter(Rwkv7.ShiftMix(dim, 0.9 * oneToAlmostZero));
        x_g = new Parameter(Rwkv7.ShiftMix(dim, 0.2 * oneToAlmostZero));
        (w1, w2) = LowRank(decayLora);
        w0 = new Parameter(decayBase + 0.5 + zigzag * 2.5);
        (a1, a2) = LowRank(iclrLora);
        a0 = new Parameter(-0.19 + zigzag * 0.3 + linear * 0.4);
        if (!Rwkv7.IsFirstLayer(config, layer))
        {
            (v1, v2) = LowRank(valueLora);
            v0 = new Parameter(0.73 - linear * 0.4);
        }
        (g1, g2) = LowRank(gateLora);
        k_k = new Parameter(0.71 - linear * 0.1);
        k_a = new Parameter(ones(dim) * 1.02);
        r_k = new Parameter(ones(heads, headSize) * -0.04);
        receptance = new Projection(dim, dim);
        key = new Projection(dim, dim);
        value = new Projection(dim, dim);
        output = new Projection(dim, dim);
        using (no_grad())
        {
            nn.init.orthogonal_(receptance.weight, 1.0);
            nn.init.orthogonal_(key.weight, 0.1);
            nn.init.orthogonal_(value.weight, 1.0);
            output.weight.zero_();
        }
        ln_x = nn.GroupNorm(heads, dim, GroupNormEps);
        using (no_grad())
        {
            ln_x.weight!.fill_(Math.Pow((1 + layer) / (double)config.Layers, 0.7));
            ln_x.bias!.zero_(); // TorchSharp 0.107's GroupNorm leaves its bias uninitialised (seen holding garbage and NaN)
        }
        linear.Dispose(); zigzag.Dispose(); decayBase.Dispose();
        RegisterComponents();
    }

    /// <summary>A low-rank pair: the first [dim, D] zero, the second [D, dim] orthogonal with scale 0.1 (official ortho_init).</summary>
    (Parameter First, Parameter Second) LowRank(int rank)
    {
        var second = zeros(rank, dim);
        Rwkv7.OrthoInit(second, 0.1);
        return (new Parameter(zeros(dim, rank)), new Parameter(second));
    }

    public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var state = MixerState.As<Rwkv7TimeMixState>(initial, "RWKV-7 time mixing");
        if (time == 0) return (empty_like(x).MoveToOuterDisposeScope(), returnFinal ? state ?? Empty(batch, x) : null);

        var first = state?.Shift.unsqueeze(1) ?? zeros([batch, 1, dim], x.dtype, x.device);
        var p = Project(x, cat([first, x.narrow(1, 0, time - 1)], 1));
        var (wkv, last) = ScanBackends.UsesIlgpu(Backend, p.R, "wkv7")
            ? IlgpuWkv7Function.Forward(p.R, p.LogW, p.K, p.V, p.A, p.B, state?.Wkv)
            : UseChunkedWkv
                ? Wkv7Reference.Chunked(p.R, p.LogW, p.K, p.V, p.A, p.B, state?.Wkv, Chunk)
                : Wkv7Reference.Recurrent(p.R, p.LogW, p.K, p.V, p.A, p.B, state?.Wkv);
        var y = Output(wkv, p);
        MixerState? final = null;
        if (returnFinal)
        {
            var target = state ?? Empty(batch, x);
            target.Advance(x.select(1, time - 1).clone(), last, time); // a copy: a view would keep all of x alive
            final = target;
        }
        return (y.MoveToOuterDisposeScope(), final);
    }

    public override Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var s = MixerState.Require<Rwkv7TimeMixState>(state, "RWKV-7 time mixing");
        var p = Project(x, s.Shift);
        var (wkv, next) = Wkv7Reference.Step(p.R, p.LogW, p.K, p.V, p.A, p.B, s.Wkv);
        var y = Output(wkv, p);
        s.Advance(x.alias(), next, 1);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The engine twin; layers of one model share one value-residual carrier, as they share <see cref="Rwkv7ValueResidual"/>.</summary>
    public ILeanLayer ToLean(LeanBuilder b)
    {
        using var scope = NewDisposeScope();
        // the LoRA matrices multiply from the right (x·W1·W2): the engine's y = W·x wants them transposed
        LeanLowRank LowRank(Tensor first, Tensor second) => new(b.Matrix(first.t()), b.Matrix(second.t()));
        static float[] V(Tensor t) => LeanBuilder.Vector(t);
        var weights = new LeanRwkv7TimeMixWeights
        {
            Receptance = b.Matrix(receptance), Key = b.Matrix(key), Value = b.Matrix(value), Output = b.Matrix(output),
            Decay = LowRank(w1, w2), Iclr = LowRank(a1, a2), Gate = LowRank(g1, g2),
            ValueMix = v1 is null ? null : LowRank(v1, v2!),
            MixR = V(x_r), MixW = V(x_w), MixK = V(x_k), MixV = V(x_v), MixA = V(x_a), MixG = V(x_g),
            DecayBias = V(w0), IclrBias = V(a0), ValueBias = v0 is null ? null : V(v0),
            KeyNorm = V(k_k), KeyIclr = V(k_a), Bonus = V(r_k),
            GroupNormWeight = V(ln_x.weight!), GroupNormBias = V(ln_x.bias!),
            Heads = heads, GroupNormEps = (float)GroupNormEps,
        };
        return new LeanRwkv7TimeMix(weights, b.Shared(valueResidual, () => new LeanRwkv7ValueResidual()));
    }

    /// <summary>What the WKV and the output read, per head [..., heads, N]: r, log w, k (after the learning-rate
    /// rescale), v (after the value residual), the delta-rule vectors a = −κ̂ and b = κ̂ ⊙ iclr, and the gate g [..., dim].</summary>
    sealed record Projected(Tensor R, Tensor LogW, Tensor K, Tensor V, Tensor A, Tensor B, Tensor G);

    /// <summary>Everything before the WKV, for inputs x and previous inputs of any leading shape [..., dim].</summary>
    Projected Project(Tensor x, Tensor previous)
    {
        var shift = previous - x;
        Tensor Mix(Tensor mu) => x + shift * mu;
        var xv = Mix(x_v);
        var r = receptance.call(Mix(x_r));
        var decay = w0 + tanh(matmul(Mix(x_w), w1)).matmul(w2);
        var logW = -(-nn.functional.softplus(-decay) - 0.5).exp(); // log w; the official soft clamp to w ∈ (e^{−e^{−½}}, 1)
        var k = key.call(Mix(x_k));
        var v = value.call(xv);
        if (v0 is null) valueResidual.Set(v);
        else v = v + (valueResidual.Get(v, layer) - v) * (v0 + matmul(xv, v1!).matmul(v2!)).sigmoid();
        var iclr = (a0 + matmul(Mix(x_a), a1).matmul(a2)).sigmoid();
        var g = matmul(Mix(x_g), g1).sigmoid().matmul(g2);
        var kk = nn.functional.normalize(Heads(k * k_k), p: 2.0, dim: -1, eps: 1e-12);
        k = k * (1 + (iclr - 1) * k_a);
        return new Projected(Heads(r), Heads(logW), Heads(k), Heads(v), -kk, kk * Heads(iclr), g);
    }

    /// <summary>GroupNorm over each head's WKV output, the r·k bonus (Σ_head r ⊙ k ⊙ r_k) v, the gate and W_o.</summary>
    Tensor Output(Tensor wkv, Projected p)
    {
        var shape = p.G.shape;
        var normed = ln_x.call(wkv.reshape(-1, dim, 1)).view(wkv.shape); // TorchSharp's GroupNorm wants [rows, channels, length]
        var bonus = (p.R * p.K * r_k).sum(-1, keepdim: true) * p.V;
        return output.call((normed + bonus).view(shape) * p.G);
    }

    Tensor Heads(Tensor t) => t.view([.. t.shape[..^1], heads, headSize]);

    Rwkv7TimeMixState Empty(long batch, Tensor x) => new(batch, dim, heads, headSize, x.dtype, x.device);

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new Rwkv7TimeMixState(batch, dim, heads, headSize, dtype, device);

    /// <summary>Shift [B, dim] plus the WKV state [B, heads, N, N]: independent of length.</summary>
    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        batch * (dim + (long)heads * headSize * headSize) * ElementSize(dtype);

    /// <summary>
    /// Per token, counting each add, multiply and elementwise function as one FLOP, as the recurrence does it: per head the
    /// state update S·diag(w) (N²), S·a (2N²), its outer product with b (2N²), v·kᵀ (2N²) and y = S·r (2N²), 9N² in all, so
    /// 9·dim·N; per channel about 40 (six token-shift mixes at 2, the decay's softplus/exp chain, σ of a and the residual
    /// mix, κ̂'s normalisation, the k rescale, GroupNorm, the r·k bonus and the gate). The LoRA and projection matmuls
    /// are parameter FLOPs. The chunked form does a different amount of work for the same result (about 4·L·N per channel
    /// and token for its L×L products, L = <see cref="Chunk"/>); this counts the recurrence.
    /// </summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 9L * dim * headSize + 40L * dim;
}
