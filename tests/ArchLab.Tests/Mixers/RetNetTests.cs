using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>
/// The three retention forms against each other. They differ only by a positive scale per row and head before the group
/// norm (parallel: √(decay row sum) and clamp(Σ|scores|, 1, 5·10⁴); chunkwise: √(in-chunk decay row sum) and
/// max(inner, cross) clamps; recurrent: √sₙ — see meta.json of the golden case and torchscale issues #40/#77), and
/// RMSNorm(y) = y/√(mean y² + eps) removes such a scale exactly only when eps = 0. So the cross-form tests use
/// norm_eps = 1e-24 (relative effect ≈ eps/mean y² ≈ 1e-22, far below the 1e-9 tolerance) and compare outputs and final
/// states in float64 at 1e-9. States (Kv, Scale) contain no normalisation at all and agree for any eps. With the default
/// eps, the forms that are the same official function (parallel and recurrent while no clamp is active; chunkwise with
/// the same chunk boundaries) are compared too.
/// </summary>
public class RetNetTests
{
    const int Batch = 2, Time = 37, Dim = 24, Heads = 3, ValueDim = 36;

    static ModelConfig Config(double eps = 1e-24, int? chunk = null, bool chunkwise = false) => new ModelConfig
    {
        Arch = "retnet", Dim = Dim, Heads = Heads, ValueDim = ValueDim, NormEps = eps,
        RetentionChunkSize = chunk, RetentionChunkwise = chunkwise ? true : null,
    }.Validate();

    /// <summary>A mixer with weights from its own generator (xunit runs tests in parallel, so the global seed is shared).</summary>
    static Retention Mixer(ModelConfig config, ScalarType dtype = ScalarType.Float64, int seed = 7)
    {
        var mixer = new Retention(config);
        var generator = new torch.Generator((ulong)seed);
        using (no_grad())
            foreach (var (_, p) in mixer.named_parameters())
                p.copy_(randn(p.shape, ScalarType.Float64, generator: generator) * 0.2);
        mixer.to(dtype);
        return mixer;
    }

    static Tensor Input(double scale = 4.0, ScalarType dtype = ScalarType.Float64, int seed = 11, long time = Time) =>
        (randn([Batch, time, Dim], ScalarType.Float64, generator: new torch.Generator((ulong)seed)) * scale).to(dtype);

    static RetentionState Clone(RetentionState s) => new(s.Kv.detach().clone(), s.Scale.detach().clone(), s.Position);

    /// <summary>Initial states: none (position 0), the state after an 11-token prefix, and a random kv at position 11.</summary>
    public static TheoryData<string> Starts => new() { "empty", "prefix", "random" };

    static RetentionState Start(Retention mixer, string kind, ScalarType dtype)
    {
        var state = (RetentionState)mixer.AllocateState(Batch, Time, dtype, CPU);
        if (kind == "empty") return state;
        using (no_grad()) mixer.Forward(Input(seed: 99, dtype: dtype, time: 11), state, returnFinal: true);
        if (kind == "random")
        {
            var kv = randn(state.Kv.shape, dtype, generator: new torch.Generator(5));
            return new RetentionState(kv, state.Scale.clone(), state.Position);
        }
        return state;
    }

    [Theory]
    [MemberData(nameof(Starts))]
    public void AllFormsAgreeFloat64(string start)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Input();
        var reference = Mixer(Config());
        var initial = Start(reference, start, ScalarType.Float64);

        // Reference: the step loop (recurrent form).
        var stepState = Clone(initial);
        var expected = MixerRuns.Stepped(reference, x, stepState).Output;

        // Whole sequence: parallel form when there is no state, chunkwise with one chunk of T otherwise.
        var wholeState = Clone(initial);
        var (whole, final) = start == "empty" ? reference.Forward(x, null, returnFinal: true) : reference.Forward(x, wholeState, returnFinal: true);
        TensorAssert.Close(expected, whole, 1e-9, $"{start}: whole vs recurrent");
        MixerRuns.SameState(stepState, (RetentionState)final!, 1e-9, $"{start}: whole vs recurrent");

        // Pieces fed with the state (LogitsRunner's Chunked), with pieces and chunk sizes that divide T and ones that don't.
        foreach (var (piece, chunk) in new (int, int?)[] { (8, null), (5, null), (37, 8), (37, 5), (16, 8), (13, 5), (1, null) })
        {
            var mixer = Mixer(Config(chunk: chunk));
            var state = Clone(initial);
            var output = MixerRuns.Chunked(mixer, x, state, piece).Output;
            TensorAssert.Close(expected, output, 1e-9, $"{start}: pieces of {piece}, chunk {chunk} vs recurrent");
            MixerRuns.SameState(stepState, state, 1e-9, $"{start}: pieces of {piece}, chunk {chunk} vs recurrent");
        }

        // Chunkwise form for stateless passes (retention_chunkwise), as in training.
        if (start == "empty")
            foreach (int chunk in new[] { 8, 5, 37, 64 })
            {
                var (output, chunkFinal) = Mixer(Config(chunk: chunk, chunkwise: true)).Forward(x, null, returnFinal: true);
                TensorAssert.Close(expected, output, 1e-9, $"stateless chunkwise {chunk} vs recurrent");
                MixerRuns.SameState(stepState, (RetentionState)chunkFinal!, 1e-9, $"stateless chunkwise {chunk} vs recurrent");
            }
    }

    [Fact]
    public void AllFormsAgreeFloat32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Input(dtype: ScalarType.Float32);
        var mixer = Mixer(Config(chunk: 8), ScalarType.Float32);
        var stepState = (RetentionState)mixer.AllocateState(Batch, Time, ScalarType.Float32, CPU);
        var expected = MixerRuns.Stepped(mixer, x, stepState).Output;
        var (parallel, parallelState) = mixer.Forward(x, null, returnFinal: true);
        var chunkState = (RetentionState)mixer.AllocateState(Batch, Time, ScalarType.Float32, CPU);
        var chunked = MixerRuns.Chunked(mixer, x, chunkState, 5).Output;
        // float32 rounding (≈6e-8 relative) amplified by the group norm of rows whose raw values are small: 1e-5.
        TensorAssert.Close(expected, parallel, 1e-5, "float32 parallel vs recurrent");
        TensorAssert.Close(expected, chunked, 1e-5, "float32 chunked vs recurrent");
        MixerRuns.SameState(stepState, (RetentionState)parallelState!, 1e-5, "float32 parallel vs recurrent");
        MixerRuns.SameState(stepState, chunkState, 1e-5, "float32 chunked vs recurrent");
    }

    /// <summary>
    /// With torchscale's default eps (1e-6): parallel and recurrent are the same official function while every parallel row has
    /// Σ|scores| ≤ 1 (small inputs), and the chunkwise form is split-invariant when pieces start on chunk boundaries. With
    /// large inputs the forms do differ (the reason for the tiny eps above).
    /// </summary>
    [Fact]
    public void SameOfficialFunctionAgreesWithDefaultEps()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mixer = Mixer(Config(eps: 1e-6, chunk: 8));
        var small = Input(scale: 0.3);
        var parallel = mixer.Forward(small).Output;
        var recurrent = MixerRuns.Stepped(mixer, small, (RetentionState)mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU)).Output;
        TensorAssert.Close(parallel, recurrent, 1e-12, "small inputs: parallel vs recurrent");

        var x = Input();
        var whole = mixer.Forward(x, mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU)).Output;
        var pieces = MixerRuns.Chunked(mixer, x, (RetentionState)mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU), 16).Output;
        TensorAssert.Close(whole, pieces, 1e-12, "chunkwise: one call vs pieces of 16 (chunk 8)");

        var large = mixer.Forward(x).Output;
        Assert.True(TensorAssert.MaxDiff(large, whole) > 1e-6, "with eps 1e-6 and active clamps, parallel and chunkwise should differ");
    }

    [Theory]
    [InlineData(37, 8)] // pieces without chunks are in MixerConformanceTests
    public void ParallelAndChunkedGiveTheSameGradients(int piece, int? chunk)
    {
        using var scope = NewDisposeScope();
        var config = Config(chunk: chunk);
        var mixer = Mixer(config);
        var weights = randn([Batch, Time, Dim], ScalarType.Float64, generator: new torch.Generator(3));

        Dictionary<string, Tensor> Gradients(bool chunked)
        {
            mixer.zero_grad();
            var x = Input().requires_grad_(true);
            var output = chunked
                ? MixerRuns.Chunked(mixer, x, (RetentionState)mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU), piece).Output
                : mixer.Forward(x).Output;
            (output * weights).sum().backward();
            var grads = mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            grads["input"] = x.grad!.clone();
            return grads;
        }

        var parallel = Gradients(chunked: false);
        var chunkedGrads = Gradients(chunked: true);
        Assert.Equal(6, parallel.Count); // q, k, v, g, out projections and the input
        foreach (var (name, grad) in parallel)
            TensorAssert.Close(grad, chunkedGrads[name], 1e-9, $"gradient of {name}");
    }

    [Fact]
    public void DecayIsOneMinusTwoToTheMinusFiveMinusHead()
    {
        var (logDecay, angle) = Retention.Tables(heads: 4, keyDim: 8);
        for (int h = 0; h < 4; h++) Assert.True(Math.Abs(1 - Math.Pow(2, -5 - h) - Math.Exp(logDecay[h])) < 1e-6, $"head {h}");
        Assert.Equal([1f, 1f], angle[..2]);
        Assert.Equal(1e-4f, angle[^1], 1e-9f); // θ = 10000^−1 for the last pair (linspace includes 1)
    }

    [Fact]
    public void FlopsFollowTheForm()
    {
        // dk = 8, dv = 12, 3 heads: parallel 3·(2·20+4)·(T+1)/2; chunkwise (C = 8) 3·((2·20+4)·9/2 + 4·8·12).
        Assert.Equal(3 * 44 * 257 / 2, Mixer(Config()).NonParameterFlopsPerToken(256));
        Assert.Equal(3 * (44 * 9 / 2 + 4 * 8 * 12), Mixer(Config(chunk: 8, chunkwise: true)).NonParameterFlopsPerToken(256));
    }
}
