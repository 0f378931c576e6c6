using ArchLab.Kernels.Reference;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>Mamba-2's chunked SSD form, its token step, chunked continuation and any split are the same function
/// (outputs, final states, gradients); the reference kernel's chunked form equals its sequential recurrence.</summary>
public class Mamba2Tests
{
    const int Batch = 2, Time = 37;

    /// <summary>inner 32 = 4 heads of 8, two groups, chunk 8 (37 tokens: four whole chunks and a padded one).</summary>
    static readonly ModelConfig Small = new()
    {
        Arch = "mamba2", Dim = 16, Layers = 2, DState = 5, DConv = 4, Expand = 2, SsmHeadDim = 8, SsmGroups = 2, SsmChunkSize = 8,
    };

    /// <summary>A mixer with its official init, then perturbed so that nothing is one or zero by accident and Δ is O(1)
    /// (the state decays visibly within a chunk and still carries context across chunks).</summary>
    static Mamba2 Build(ModelConfig config, ScalarType dtype, long seed = 1)
    {
        manual_seed(seed);
        var mixer = new Mamba2(config);
        using (no_grad())
            foreach (var (name, p) in mixer.named_parameters())
                p.add_(randn(p.shape) * (name == "dt_bias" ? 1.0 : name == "in_proj.weight" ? 0.3 : 0.1));
        mixer.to(dtype);
        return mixer;
    }

    static Mamba2State RandomState(Mamba2 mixer, ScalarType dtype, long position = 5) =>
        new(randn(Batch, mixer.ConvChannels, mixer.ConvKernel - 1, dtype: dtype),
            0.5 * randn(Batch, mixer.Heads, mixer.HeadDim, mixer.StateSize, dtype: dtype), position);

    [Theory]
    [InlineData(ScalarType.Float64, 1e-9, false)]
    [InlineData(ScalarType.Float64, 1e-9, true)]
    [InlineData(ScalarType.Float32, 2e-5, false)]
    [InlineData(ScalarType.Float32, 2e-5, true)]
    public void ParallelRecurrentChunkedAndSplitAgree(ScalarType dtype, double atol, bool withInitialState)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var mixer = Build(Small, dtype);
        var x = randn(Batch, Time, Small.Dim, dtype: dtype);
        var initial = withInitialState ? RandomState(mixer, dtype) : null;

        var (y, final) = mixer.Forward(x, initial?.Clone(), returnFinal: true);
        var parallel = (Mamba2State)final!;
        Assert.Equal((withInitialState ? 5 : 0) + Time, parallel.Position);
        Assert.True(parallel.Ssm.abs().max().to(ScalarType.Float64).item<double>() > 0.05, "the state carries something");

        var (yr, recurrent) = MixerRuns.Stepped(mixer, x, initial?.Clone());
        TensorAssert.Close(y, yr, atol, "recurrent output");
        MixerRuns.SameState(parallel, recurrent, atol, "recurrent");

        foreach (long chunk in new long[] { 1, 3, 8, 16, 36, 37, 64 })
        {
            var (yc, chunked) = MixerRuns.Chunked(mixer, x, initial?.Clone(), chunk);
            TensorAssert.Close(y, yc, atol, $"calls of {chunk} tokens: output");
            MixerRuns.SameState(parallel, chunked, atol, $"calls of {chunk} tokens");
        }

        foreach (long split in new long[] { 1, 8, 16, 21, 36 })
        {
            var (head, mid) = mixer.Forward(x.narrow(1, 0, split), initial?.Clone(), returnFinal: true);
            var (tail, end) = mixer.Forward(x.narrow(1, split, Time - split), mid, returnFinal: true);
            TensorAssert.Close(y, cat([head, tail], 1), atol, $"split {split} output");
            MixerRuns.SameState(parallel, (Mamba2State)end!, atol, $"split {split}");
        }
    }

    /// <summary>The SSD chunk length changes the computation only: every chunk length gives the sequential recurrence's
    /// outputs and final state, including chunks longer than the sequence and a padded last chunk.</summary>
    [Fact]
    public void SsdChunkedFormEqualsTheRecurrenceForEveryChunkLength()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        manual_seed(3);
        const int heads = 3, p = 4, n = 5;
        var x = randn(Batch, Time, heads, p, dtype: ScalarType.Float64);
        var dt = nn.functional.softplus(randn(Batch, Time, heads, dtype: ScalarType.Float64));
        var a = -rand(heads, dtype: ScalarType.Float64) * 4 - 0.5;
        var b = randn(Batch, Time, heads, n, dtype: ScalarType.Float64);
        var c = randn(Batch, Time, heads, n, dtype: ScalarType.Float64);
        var s0 = randn(Batch, heads, p, n, dtype: ScalarType.Float64);
        var (y, last) = SsdReference.Sequential(x, dt, a, b, c, s0);
        foreach (long chunk in new long[] { 1, 2, 5, 8, 37, 40, 100 })
        {
            var (yc, lastC) = SsdReference.Chunked(x, dt, a, b, c, s0, chunk);
            TensorAssert.Close(y, yc, 1e-12, $"chunk {chunk}: outputs");
            TensorAssert.Close(last, lastC, 1e-12, $"chunk {chunk}: final state");
        }
    }

    [Theory]
    [InlineData(1, 1, false, false, true)]   // no conv history at all, one group
    [InlineData(2, 4, true, true, false)]    // a group per head, norm before the gate, biases, no conv bias
    [InlineData(5, 2, false, true, true)]
    public void OptionVariantsAgree(int dConv, int groups, bool normBeforeGate, bool projBias, bool convBias)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var config = Small with { DConv = dConv, SsmGroups = groups, NormBeforeGate = normBeforeGate, ProjBias = projBias, ConvBias = convBias, SsmChunkSize = 4 };
        using var mixer = Build(config, ScalarType.Float64, seed: 7);
        Assert.Equal((groups, normBeforeGate), (mixer.Groups, mixer.norm.NormBeforeGate));
        Assert.Equal(convBias, mixer.conv1d.bias is not null);
        Assert.Equal(projBias, mixer.in_proj.bias is not null && mixer.out_proj.bias is not null);
        var x = randn(Batch, 11, config.Dim, dtype: ScalarType.Float64);
        var initial = RandomState(mixer, ScalarType.Float64);
        var (y, final) = mixer.Forward(x, initial.Clone(), returnFinal: true);
        var (yr, recurrent) = MixerRuns.Stepped(mixer, x, initial.Clone());
        var (yc, chunked) = MixerRuns.Chunked(mixer, x, initial.Clone(), 3);
        TensorAssert.Close(y, yr, 1e-9, "recurrent output");
        TensorAssert.Close(y, yc, 1e-9, "chunked output");
        MixerRuns.SameState((Mamba2State)final!, recurrent, 1e-9, "recurrent");
        MixerRuns.SameState((Mamba2State)final!, chunked, 1e-9, "chunked");
    }

    /// <summary>Gradients of every parameter, the input and the initial state through the chunked SSD form equal those
    /// through the naive form (the token step, under autograd), and through calls of 5 tokens carrying the state.</summary>
    [Fact]
    public void ChunkedGradientsEqualNaiveGradients()
    {
        using var scope = NewDisposeScope();
        using var mixer = Build(Small, ScalarType.Float64);
        var x = randn(Batch, Time, Small.Dim, dtype: ScalarType.Float64);
        var weights = randn(Batch, Time, Small.Dim, dtype: ScalarType.Float64);
        var initial = RandomState(mixer, ScalarType.Float64);

        Dictionary<string, Tensor> Gradients(Func<Tensor, Mamba2State, Tensor> run)
        {
            mixer.zero_grad();
            var input = x.clone().requires_grad_(true);
            var ssm0 = initial.Ssm.clone().requires_grad_(true);
            var state = new Mamba2State(initial.Conv.clone(), ssm0.clone(), initial.Position); // the state frees what it replaces
            (run(input, state) * weights).sum().backward();
            var grads = mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            grads["input"] = input.grad!.clone();
            grads["initial ssm state"] = ssm0.grad!.clone();
            return grads;
        }

        var chunkedForm = Gradients((input, state) => mixer.Forward(input, state).Output);
        var naive = Gradients((input, state) => MixerRuns.Stepped(mixer, input, state).Output);
        var calls = Gradients((input, state) => MixerRuns.Chunked(mixer, input, state, 5).Output);
        foreach (var (name, g) in chunkedForm)
        {
            Assert.True(g.abs().max().item<double>() > 0, $"{name}: zero gradient");
            TensorAssert.Close(g, naive[name], 1e-9, $"naive: d/d{name}");
            TensorAssert.Close(g, calls[name], 1e-9, $"calls of 5: d/d{name}");
        }
    }

    [Fact]
    public void StateIsFixedSizeAndMatchesAnalyticBytes()
    {
        using var mixer = new Mamba2(Small);
        using var state = mixer.AllocateState(Batch, 1000, ScalarType.Float32, CPU);
        Assert.Equal(mixer.StateBytes(Batch, 1000, ScalarType.Float32), state.Bytes);
        Assert.Equal(mixer.StateBytes(Batch, 1, ScalarType.Float32), mixer.StateBytes(Batch, 100_000, ScalarType.Float32));
        Assert.Equal(Batch * ((32 + 2 * 2 * 5) * 3 + 4 * 8 * 5) * 4L, state.Bytes);
        // chunk 8: per head 2·5·8 + 8 + 2·8·8 + 4·8·5 + 3·8, plus 5 per channel.
        Assert.Equal(4L * (80 + 8 + 128 + 160 + 24) + 5 * 32, mixer.NonParameterFlopsPerToken(256));
        Assert.True(mixer.NonParameterFlopsPerToken(4) < mixer.NonParameterFlopsPerToken(256));
    }

    /// <summary>ModelSize counts what the modules hold, and its state bytes are the mixer's, for the estimate that refuses
    /// configs too large for the machine.</summary>
    [Fact]
    public void ModelSizeCountsTheParametersAndState()
    {
        foreach (var config in new[] { Small with { Layers = 3 }, Small with { ProjBias = true, ConvBias = false, Mlp = "swiglu", FfnHidden = 40, TiedEmbeddings = true } })
        {
            using var model = new LanguageModel(config);
            Assert.Equal(model.parameters().Sum(p => p.NumberOfElements), (long)ModelSize.Parameters(config));
            Assert.Equal(config.Layers * model.blocks[0].StateBytes(1, config.ContextLength, ScalarType.Float32), (long)ModelSize.StateBytes(config));
        }
    }

    [Fact]
    public void InitialisesLikeTheOfficialCode()
    {
        using var mixer = new Mamba2(Small with { Dim = 64, SsmHeadDim = 4 }); // 32 heads
        using var noGrad = no_grad();
        var a = mixer.A_log.exp();
        Assert.True(a.min().item<float>() >= 1 && a.max().item<float>() <= 16, "A = −exp(A_log), −A ∈ [1, 16]");
        Assert.True(mixer.D.eq(1).all().item<bool>() && mixer.norm.weight.eq(1).all().item<bool>());
        var dt = nn.functional.softplus(mixer.dt_bias);
        Assert.True(dt.min().item<float>() >= 1e-3f * 0.999f && dt.max().item<float>() <= 1e-1f * 1.001f);
        Assert.True(mixer.in_proj.weight.abs().max().item<float>() <= 1 / Math.Sqrt(64) + 1e-6);
        Assert.True(mixer.out_proj.weight.abs().max().item<float>() <= 1 / Math.Sqrt(128) / Math.Sqrt(2) + 1e-6);
        Assert.True(mixer.out_proj.weight.abs().max().item<float>() > 0.5 / Math.Sqrt(128) / Math.Sqrt(2));
    }

    [Fact]
    public void BadShapesAreRefusedNamingTheOption()
    {
        Assert.Contains("'ssm_head_dim'", Assert.Throws<ConfigException>(() => new Mamba2(Small with { SsmHeadDim = 6 })).Message);
        Assert.Contains("'ssm_groups'", Assert.Throws<ConfigException>(() => new Mamba2(Small with { SsmGroups = 3 })).Message);
        Assert.Contains("'ssm_chunk_size'", Assert.Throws<ConfigException>(() => new Mamba2(Small with { SsmChunkSize = 0 })).Message);
        using var mixer = new Mamba2(Small);
        using var other = new Mamba2(Small with { DState = 7 });
        using var state = other.AllocateState(1, 4, ScalarType.Float32, CPU);
        Assert.Contains("ssm", Assert.Throws<ArgumentException>(() => mixer.Step(zeros(1, Small.Dim), state)).Message);
    }
}
