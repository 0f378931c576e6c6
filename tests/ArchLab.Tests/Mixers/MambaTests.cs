using ArchLab.Kernels;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>Mamba beyond the conformance suite (MixerConformanceTests): shape variants, random states, the fused scan
/// against the reference, the official init, state checks and config fields.</summary>
public class MambaTests
{
    const int Batch = 2, Time = 37;

    static readonly ModelConfig Small = new() { Arch = "mamba", Dim = 16, Layers = 2, DState = 5, DConv = 4, Expand = 2, DtRank = 3 };

    /// <summary>The scan backend every mixer of these tests runs (the derived class runs them all again on the reference).</summary>
    protected virtual ScanBackend Backend => ScanBackend.Cpu;

    Mamba Build(ModelConfig config, ScalarType dtype, long seed = 1)
    {
        manual_seed(seed);
        var mixer = new Mamba(config);
        using (no_grad())
            foreach (var (name, p) in mixer.named_parameters())
                p.add_(randn(p.shape) * (name.StartsWith("x_proj") ? 0.3 : 0.1));
        mixer.to(dtype);
        mixer.ScanBackend = Backend;
        return mixer;
    }

    static MambaState RandomState(Mamba mixer, ScalarType dtype, long position = 5) =>
        new(randn(Batch, mixer.InnerDim, mixer.ConvKernel - 1, dtype: dtype),
            0.5 * randn(Batch, mixer.InnerDim, mixer.StateSize, dtype: dtype), position);

    [Theory]
    [InlineData(1, 1.0, 4, true, false)]   // no conv history at all
    [InlineData(2, 1.5, 1, false, true)]   // fractional expand (inner 24), rank-1 Δ, no conv bias, projection biases
    [InlineData(5, 2.0, 2, true, true)]
    public void ShapesVariantsAgree(int dConv, double expand, int dtRank, bool convBias, bool projBias)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var config = Small with { DConv = dConv, Expand = expand, DtRank = dtRank, ConvBias = convBias, ProjBias = projBias, DState = 3 };
        using var mixer = Build(config, ScalarType.Float64, seed: 7);
        Assert.Equal((int)(expand * 16), mixer.InnerDim);
        Assert.Equal(convBias, mixer.conv1d.bias is not null);
        Assert.Equal(projBias, mixer.in_proj.bias is not null && mixer.out_proj.bias is not null);
        var x = randn(Batch, 11, config.Dim, dtype: ScalarType.Float64);
        var initial = RandomState(mixer, ScalarType.Float64);
        var (y, final) = mixer.Forward(x, initial.Clone(), returnFinal: true);
        var (yr, recurrent) = MixerRuns.Stepped(mixer, x, initial.Clone());
        var (yc, chunked) = MixerRuns.Chunked(mixer, x, initial.Clone(), 3);
        TensorAssert.Close(y, yr, 1e-9, "recurrent output");
        TensorAssert.Close(y, yc, 1e-9, "chunked output");
        MixerRuns.SameState(final!, recurrent, 1e-9, "recurrent");
        MixerRuns.SameState(final!, chunked, 1e-9, "chunked");
    }

    /// <summary>The whole mixer with the fused scan (default) and with the reference loop: same output, final state and
    /// gradients of every parameter and of the input, from an initial state.</summary>
    [Theory]
    [InlineData(ScalarType.Float64, 1e-10)]
    [InlineData(ScalarType.Float32, 1e-4)]
    public void FusedScanMatchesReferenceScan(ScalarType dtype, double atol)
    {
        using var scope = NewDisposeScope();
        using var mixer = Build(Small, dtype);
        var x = randn(Batch, Time, Small.Dim, dtype: dtype);
        var weights = randn(Batch, Time, Small.Dim, dtype: dtype);
        var initial = RandomState(mixer, dtype);

        (Tensor Y, Tensor Ssm, Dictionary<string, Tensor> Grads) Run(ScanBackend? backend)
        {
            mixer.ScanBackend = backend;
            mixer.zero_grad();
            var input = x.clone().requires_grad_(true);
            var (y, final) = mixer.Forward(input, initial.Clone(), returnFinal: true);
            (y * weights).sum().backward();
            var grads = mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            grads["input"] = input.grad!.clone();
            return (y.detach(), ((MambaState)final!).Ssm.detach(), grads);
        }

        var fused = Run(null);
        var reference = Run(ScanBackend.Reference);
        mixer.ScanBackend = null;
        TensorAssert.Close(reference.Y, fused.Y, atol, "output");
        TensorAssert.Close(reference.Ssm, fused.Ssm, atol, "final ssm state");
        foreach (var (name, g) in reference.Grads)
        {
            double scale = Math.Max(1, g.abs().max().to(ScalarType.Float64).item<double>());
            TensorAssert.Close(g, fused.Grads[name], atol * scale, $"d/d{name}");
        }
    }

    [Fact]
    public void InitialisesLikeTheOfficialCode()
    {
        using var mixer = new Mamba(Small with { Dim = 64 });
        using var noGrad = no_grad();
        // A = −(1..N) in every channel, D = 1, softplus(dt bias) ∈ [dt_min, dt_max].
        Assert.Equal(new[] { 1.0, 2, 3, 4, 5 }, (-(-mixer.A_log.exp())).select(0, 7).to(ScalarType.Float64).data<double>().ToArray().Select(v => Math.Round(v, 5)));
        Assert.True(mixer.D.eq(1).all().item<bool>());
        var dt = nn.functional.softplus(mixer.dt_proj.bias!);
        Assert.True(dt.min().item<float>() >= 1e-3f * 0.999f && dt.max().item<float>() <= 1e-1f * 1.001f);
        Assert.True(mixer.out_proj.weight.abs().max().item<float>() <= 1 / Math.Sqrt(128) / Math.Sqrt(2) + 1e-6);
    }

    [Fact]
    public void RejectsStateOfAnotherShape()
    {
        using var mixer = new Mamba(Small);
        using var other = new Mamba(Small with { DState = 7 });
        using var state = other.AllocateState(1, 4, ScalarType.Float32, CPU);
        var e = Assert.Throws<ArgumentException>(() => mixer.Step(zeros(1, Small.Dim), state));
        Assert.Contains("ssm", e.Message);
    }

    [Fact]
    public void ConfigValidatesMambaFields()
    {
        foreach (var (bad, field) in new (ModelConfig, string)[]
                 {
                     (Small with { DState = 0 }, "d_state"), (Small with { DConv = -1 }, "d_conv"),
                     (Small with { Expand = 0.0 }, "expand"), (Small with { DtRank = 0 }, "dt_rank"),
                 })
            Assert.Contains($"'{field}'", Assert.Throws<ConfigException>(() => bad.Validate()).Message);
        var json = Small.ToJson();
        Assert.Contains("\"d_state\": 5", json);
        Assert.Equal(Small, ModelConfig.FromJson(json));
        Assert.DoesNotContain("d_state", new ModelConfig().ToJson());
    }
}

/// <summary>Every Mamba mixer test again with the reference scan (the base class runs the fused CPU kernel).</summary>
public sealed class MambaReferenceScanTests : MambaTests
{
    protected override ScanBackend Backend => ScanBackend.Reference;
}

/// <summary>Every Mamba mixer test again with ILGPU's selective-scan kernels (on its CPU accelerator here).</summary>
public sealed class MambaIlgpuScanTests : MambaTests
{
    protected override ScanBackend Backend => ScanBackend.Ilgpu;
}
