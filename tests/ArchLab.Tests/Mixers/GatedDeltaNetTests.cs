using ArchLab.Kernels.Reference;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>Gated DeltaNet's chunked (WY) form, its token-by-token form, its step and split continuations are the same
/// function (outputs, final states, gradients), for every option of the layer.</summary>
public class GatedDeltaNetTests
{
    const int Batch = 2, Time = 37;

    /// <summary>Grouped value heads (4 over 2), expand_v 1.5, gate and convs on: the golden case's options at another size.</summary>
    static readonly ModelConfig Small = new()
    {
        Arch = "gated_deltanet", Dim = 16, Layers = 2, Heads = 2, KeyHeadDim = 8, ValueHeads = 4, ValueExpand = 1.5, DConv = 4,
        DeltaChunkSize = 8,
    };

    /// <summary>A mixer with its official init, then perturbed so that the decays, β and the state all matter.</summary>
    static GatedDeltaNet Build(ModelConfig config, ScalarType dtype, long seed = 1)
    {
        manual_seed(seed);
        var mixer = new GatedDeltaNet(config);
        using (no_grad())
            foreach (var (name, p) in mixer.named_parameters())
                p.add_(randn(p.shape) * (name.Contains("conv") ? 0.3 : name is "A_log" or "dt_bias" ? 0.5 : 0.2));
        mixer.to(dtype);
        return mixer;
    }

    static GatedDeltaNetState RandomState(GatedDeltaNet mixer, ScalarType dtype, long position = 5)
    {
        var empty = (GatedDeltaNetState)mixer.AllocateState(Batch, 1, dtype, CPU);
        var state = new GatedDeltaNetState(empty.Conv is null ? null : randn_like(empty.Conv), 0.5 * randn_like(empty.Recurrent), position);
        empty.Dispose();
        return state;
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e-9, false)]
    [InlineData(ScalarType.Float64, 1e-9, true)]
    [InlineData(ScalarType.Float32, 2e-5, false)]
    [InlineData(ScalarType.Float32, 2e-5, true)]
    public void ChunkedRecurrentStepAndSplitAgree(ScalarType dtype, double atol, bool withInitialState)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var mixer = Build(Small, dtype);
        var x = randn(Batch, Time, Small.Dim, dtype: dtype);
        var initial = withInitialState ? RandomState(mixer, dtype) : null;

        var (y, final) = mixer.Forward(x, initial?.Clone(), returnFinal: true);
        var chunked = (GatedDeltaNetState)final!;
        Assert.Equal((withInitialState ? 5 : 0) + Time, chunked.Position);
        Assert.True(chunked.Recurrent.abs().max().to(ScalarType.Float64).item<double>() > 0.1, "the state should carry something");

        mixer.Form = GatedDeltaRuleForm.Recurrent;
        var (yr, recurrent) = mixer.Forward(x, initial?.Clone(), returnFinal: true);
        mixer.Form = GatedDeltaRuleForm.Chunked;
        TensorAssert.Close(y, yr, atol, "recurrent form output");
        MixerRuns.SameState(chunked, (GatedDeltaNetState)recurrent!, atol, "recurrent form");

        var (ys, stepped) = MixerRuns.Stepped(mixer, x, initial?.Clone());
        TensorAssert.Close(y, ys, atol, "step output");
        MixerRuns.SameState(chunked, stepped, atol, "step");

        foreach (int size in new[] { 1, 3, 16, 64 })
        {
            mixer.ChunkSize = size;
            var (yk, other) = mixer.Forward(x, initial?.Clone(), returnFinal: true);
            TensorAssert.Close(y, yk, atol, $"chunk size {size} output");
            MixerRuns.SameState(chunked, (GatedDeltaNetState)other!, atol, $"chunk size {size}");
        }
        mixer.ChunkSize = 8;

        foreach (long piece in new long[] { 1, 5, 8, 36 })
        {
            var (yc, continued) = MixerRuns.Chunked(mixer, x, initial?.Clone(), piece);
            TensorAssert.Close(y, yc, atol, $"calls of {piece} tokens output");
            MixerRuns.SameState(chunked, continued, atol, $"calls of {piece} tokens");
        }

        foreach (long split in new long[] { 1, 16, 20, 36 })
        {
            var (head, mid) = mixer.Forward(x.narrow(1, 0, split), initial?.Clone(), returnFinal: true);
            var (tail, end) = mixer.Forward(x.narrow(1, split, Time - split), mid, returnFinal: true);
            TensorAssert.Close(y, cat([head, tail], 1), atol, $"split {split} output");
            MixerRuns.SameState(chunked, (GatedDeltaNetState)end!, atol, $"split {split}");
        }
    }

    [Theory]
    [InlineData(4, null, 2.0, true, true, false, 2)]     // no grouping, expand 2
    [InlineData(2, 6, 1.0, false, true, true, 3)]        // grouping 3, no output gate, negative eigenvalues, conv 3
    [InlineData(4, 8, 0.5, true, false, true, 4)]        // no short convs, expand 0.5
    public void OptionsAgreeAcrossForms(int heads, int? valueHeads, double expand, bool gate, bool conv, bool negative, int convSize)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var config = Small with
        {
            Heads = heads, KeyHeadDim = 6, ValueHeads = valueHeads, ValueExpand = expand, OutputGate = gate, ShortConv = conv,
            NegativeEigenvalues = negative, DConv = convSize, DeltaChunkSize = 4,
        };
        using var mixer = Build(config, ScalarType.Float64, seed: 7);
        Assert.Equal(gate, mixer.g_proj is not null);
        Assert.Equal(conv, mixer.q_conv1d is not null);
        Assert.Equal(valueHeads ?? heads, mixer.ValueHeads);
        Assert.Equal((int)(6 * expand), mixer.ValueHeadDim);
        var x = randn(Batch, 11, config.Dim, dtype: ScalarType.Float64);
        var initial = RandomState(mixer, ScalarType.Float64);
        var (y, final) = mixer.Forward(x, initial.Clone(), returnFinal: true);
        var (ys, stepped) = MixerRuns.Stepped(mixer, x, initial.Clone());
        var (yc, chunked) = MixerRuns.Chunked(mixer, x, initial.Clone(), 3);
        TensorAssert.Close(y, ys, 1e-9, "step output");
        TensorAssert.Close(y, yc, 1e-9, "calls of 3 output");
        MixerRuns.SameState((GatedDeltaNetState)final!, stepped, 1e-9, "step");
        MixerRuns.SameState((GatedDeltaNetState)final!, chunked, 1e-9, "calls of 3");
    }

    /// <summary>β up to 2 (allow_neg_eigval) changes the function: the option is not silently ignored.</summary>
    [Fact]
    public void NegativeEigenvaluesChangeTheOutput()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var plain = Build(Small, ScalarType.Float64, seed: 3);
        using var negative = Build(Small with { NegativeEigenvalues = true }, ScalarType.Float64, seed: 3);
        var x = randn(Batch, 9, Small.Dim, dtype: ScalarType.Float64);
        Assert.True(TensorAssert.MaxDiff(plain.call(x), negative.call(x)) > 1e-3);
    }

    /// <summary>Gradients through the chunked (WY, triangular solve) form equal those through the token-by-token form, for
    /// every parameter, the input and the initial state.</summary>
    [Fact]
    public void ChunkedGradientsEqualRecurrentGradients()
    {
        using var scope = NewDisposeScope();
        using var mixer = Build(Small, ScalarType.Float64);
        var x = randn(Batch, Time, Small.Dim, dtype: ScalarType.Float64);
        var weights = randn(Batch, Time, Small.Dim, dtype: ScalarType.Float64);
        var s0 = 0.5 * randn(Batch, mixer.ValueHeads, mixer.KeyHeadDim, mixer.ValueHeadDim, dtype: ScalarType.Float64);
        var finalWeights = randn_like(s0);
        var conv0 = randn(Batch, 2 * 2 * 8 + 4 * 12, 3, dtype: ScalarType.Float64);

        Dictionary<string, Tensor> Gradients(GatedDeltaRuleForm form)
        {
            mixer.Form = form;
            mixer.zero_grad();
            var input = x.clone().requires_grad_(true);
            var initial = s0.clone().requires_grad_(true);
            // The state takes over (and later frees) the tensors it is given: hand it a copy inside the graph, not the leaf.
            var state = new GatedDeltaNetState(conv0.clone(), initial * 1.0);
            var (y, final) = mixer.Forward(input, state, returnFinal: true);
            ((y * weights).sum() + (((GatedDeltaNetState)final!).Recurrent * finalWeights).sum()).backward();
            var grads = mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            grads["input"] = input.grad!.clone();
            grads["initial state"] = initial.grad!.clone();
            return grads;
        }

        var recurrent = Gradients(GatedDeltaRuleForm.Recurrent);
        var chunked = Gradients(GatedDeltaRuleForm.Chunked);
        mixer.Form = GatedDeltaRuleForm.Chunked;
        Assert.Equal(recurrent.Keys.Order(), chunked.Keys.Order());
        foreach (var (name, g) in recurrent)
        {
            Assert.True(g.abs().max().item<double>() > 0, $"{name}: zero gradient");
            TensorAssert.Close(g, chunked[name], 1e-9, $"d/d{name}");
        }
    }

    /// <summary>The kernel's forms directly, with a decay that underflows within a chunk (g = −40 per token).</summary>
    [Fact]
    public void ChunkedKernelSurvivesStrongDecay()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        manual_seed(5);
        var q = nn.functional.normalize(randn(1, 2, 20, 4, dtype: ScalarType.Float64), p: 2, dim: -1);
        var k = nn.functional.normalize(randn(1, 2, 20, 4, dtype: ScalarType.Float64), p: 2, dim: -1);
        var v = randn(1, 2, 20, 3, dtype: ScalarType.Float64);
        var g = -40 * rand(1, 2, 20, dtype: ScalarType.Float64);
        var beta = rand(1, 2, 20, dtype: ScalarType.Float64);
        var s0 = randn(1, 2, 4, 3, dtype: ScalarType.Float64);
        var (or, sr) = GatedDeltaRuleReference.Recurrent(q, k, v, g, beta, s0);
        var (oc, sc) = GatedDeltaRuleReference.Chunked(q, k, v, g, beta, s0, 16);
        Assert.False(oc.isnan().any().item<bool>());
        TensorAssert.Close(or, oc, 1e-12, "output");
        TensorAssert.Close(sr, sc, 1e-12, "final state");
    }

    [Fact]
    public void StateIsFixedSizeAndMatchesAnalyticBytes()
    {
        using var mixer = new GatedDeltaNet(Small);
        using var state = mixer.AllocateState(Batch, 1000, ScalarType.Float32, CPU);
        long channels = 2 * 2 * 8 + 4 * 12;
        Assert.Equal(Batch * 4L * (channels * 3 + 4 * 8 * 12), state.Bytes);
        Assert.Equal(state.Bytes, mixer.StateBytes(Batch, 1000, ScalarType.Float32));
        Assert.Equal(mixer.StateBytes(Batch, 1, ScalarType.Float32), mixer.StateBytes(Batch, 100_000, ScalarType.Float32));
        Assert.Equal(Batch * (double)(channels * 3 + 4 * 8 * 12), Batch * GatedDeltaNet.StateElements(Small));
        Assert.Equal(mixer.parameters().Sum(p => p.NumberOfElements), (long)GatedDeltaNet.ParameterCount(Small));
    }

    [Fact]
    public void BadOptionsAreRefusedByName()
    {
        Assert.Contains("'value_heads'", Assert.Throws<ConfigException>(() => (Small with { ValueHeads = 3 }).Validate()).Message);
        Assert.Contains("'value_expand'", Assert.Throws<ConfigException>(() => (Small with { ValueExpand = 1.3 }).Validate()).Message);
        Assert.Contains("'delta_chunk_size'", Assert.Throws<ConfigException>(() => (Small with { DeltaChunkSize = 0 }).Validate()).Message);
        Assert.Contains("'conv_bias'", Assert.Throws<ConfigException>(() => (Small with { ConvBias = true }).Validate()).Message);
    }
}
