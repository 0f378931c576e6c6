using ArchLab.Inference;
using ArchLab.Kernels;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>
/// RWKV-4 time and channel mixing beyond the conformance suite (MixerConformanceTests): random states with exponents of
/// either sign, the blocked WKV for any block size, float32 against float64, the stable WKV against the plain sum formula.
/// </summary>
public class Rwkv4Tests
{
    const long Batch = 2, Time = 35;
    static readonly ModelConfig Config = new() { Arch = "rwkv4", Dim = 16, DimAtt = 12, FfnHidden = 40, Layers = 2, VocabSize = 23, Heads = 1, EmbeddingNorm = true };

    /// <summary>A mixer in float64 with every parameter randomised (decays spread over −5…3 as in RWKV-LM's init).</summary>
    static T Randomised<T>(T module, int seed) where T : nn.Module
    {
        torch.manual_seed(seed);
        module.to(ScalarType.Float64);
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (name.StartsWith("time_mix")) p.uniform_(0, 1);
            else if (name == "time_decay") p.uniform_(-5, 3);
            else if (name == "time_first") p.normal_(-1, 1);
            else p.normal_(0, 0.3);
        }
        return module;
    }

    /// <summary>The WKV backend every time-mixing layer of these tests runs (the derived class runs them all again on the other).</summary>
    protected virtual ScanBackend Backend => ScanBackend.Reference;

    Rwkv4TimeMix TimeMix(int seed = 1)
    {
        var mixer = Randomised(new Rwkv4TimeMix(Config, 0.02), seed);
        mixer.ScanBackend = Backend;
        return mixer;
    }
    static Rwkv4ChannelMix ChannelMix(int seed = 2) => Randomised(new Rwkv4ChannelMix(Config.Dim, Config.FfnHiddenSize, 0.02), seed);

    static Tensor Input(long time = Time, int seed = 3)
    {
        torch.manual_seed(seed);
        return randn([Batch, time, Config.Dim], ScalarType.Float64);
    }

    /// <summary>A state as if some tokens had gone before: random shift, a, positive b, and exponents p of either sign.</summary>
    static MixerState RandomState(Mixer mixer, int seed = 4)
    {
        torch.manual_seed(seed);
        return mixer switch
        {
            Rwkv4TimeMix => new Rwkv4TimeMixState(randn([Batch, Config.Dim], ScalarType.Float64), new Wkv4State(randn([Batch, Config.Rwkv.DimAttention], ScalarType.Float64),
                                                  rand([Batch, Config.Rwkv.DimAttention], ScalarType.Float64) + 0.5, 3 * randn([Batch, Config.Rwkv.DimAttention], ScalarType.Float64)), 11),
            _ => new Rwkv4ChannelMixState(randn([Batch, Config.Dim], ScalarType.Float64), 11),
        };
    }

    static MixerState? Copy(MixerState? state) => state switch
    {
        Rwkv4TimeMixState s => new Rwkv4TimeMixState(s.Shift, s.Wkv, s.Position),
        Rwkv4ChannelMixState s => new Rwkv4ChannelMixState(s.Shift, s.Position),
        _ => null,
    };

    public static TheoryData<string, bool> Cases => new() { { "time", false }, { "time", true }, { "channel", false }, { "channel", true } };

    Mixer Make(string which) => which == "time" ? TimeMix() : ChannelMix();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesFloat64(string which, bool withInitialState)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mixer = Make(which);
        var x = Input();
        var initial = withInitialState ? RandomState(mixer) : null;
        var (expected, _) = mixer.Forward(x, Copy(initial), false);
        var mixer32 = (nn.Module)mixer;
        mixer32.to(ScalarType.Float32);
        var initial32 = initial is null ? null : Cast(initial, ScalarType.Float32);
        var (whole, _) = mixer.Forward(x.to(ScalarType.Float32), Copy(initial32), false);
        var (chunked, _) = MixerRuns.Chunked(mixer, x.to(ScalarType.Float32), Copy(initial32), 8);
        var (stepped, _) = MixerRuns.Stepped(mixer, x.to(ScalarType.Float32), Copy(initial32));
        TensorAssert.Close(expected, whole, 1e-5, "float32 parallel");
        TensorAssert.Close(whole, chunked, 1e-5, "float32 chunked");
        TensorAssert.Close(whole, stepped, 1e-5, "float32 step loop");
    }

    static MixerState Cast(MixerState s, ScalarType dtype) => s switch
    {
        Rwkv4TimeMixState t => new Rwkv4TimeMixState(t.Shift.to(dtype), new Wkv4State(t.Wkv.A.to(dtype), t.Wkv.B.to(dtype), t.Wkv.P.to(dtype)), t.Position),
        Rwkv4ChannelMixState c => new Rwkv4ChannelMixState(c.Shift.to(dtype), c.Position),
        _ => throw new ArgumentException(s.GetType().Name),
    };

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(64)]
    public void BlockedWkvEqualsTheRecurrenceForAnyBlockSize(int scanChunk)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mixer = TimeMix();
        mixer.ScanChunk = scanChunk;
        var x = Input();
        var initial = RandomState(mixer);
        var (blocked, final) = mixer.Forward(x, Copy(initial), returnFinal: true);
        var (stepped, steppedState) = MixerRuns.Stepped(mixer, x, Copy(initial));
        TensorAssert.Close(stepped, blocked, 1e-9, $"blocks of {scanChunk}");
        MixerRuns.SameState(steppedState, final!, 1e-9, $"blocks of {scanChunk}");
    }

    [Fact]
    public void BlockedWkvGradientsEqualTheRecurrence()
    {
        // The blocked form rescales without gradient; the recurrence differentiates through every max. Same function,
        // so the same gradients.
        using var scope = NewDisposeScope();
        var mixer = TimeMix();
        var initial = RandomState(mixer);
        torch.manual_seed(6);
        var upstream = randn([Batch, Time, Config.Dim], ScalarType.Float64);
        (Tensor, Dictionary<string, Tensor>) Gradients(Func<Tensor, Tensor> run)
        {
            mixer.zero_grad();
            var x = Input().requires_grad_();
            (run(x) * upstream).sum().backward();
            return (x.grad!.clone(), mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        var (dxBlocked, blocked) = Gradients(x => mixer.Forward(x, Copy(initial), false).Output);
        var (dxStepped, stepped) = Gradients(x => MixerRuns.Stepped(mixer, x, Copy(initial)).Output);
        TensorAssert.Close(dxStepped, dxBlocked, 1e-9, "d/dx");
        foreach (var (name, g) in stepped) TensorAssert.Close(g, blocked[name], 1e-9, $"d/d{name}");
    }

    [Fact]
    public void StableWkvEqualsThePlainSum()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mixer = TimeMix();
        var x = Input();
        var (actual, _) = mixer.Forward(x);

        // The paper's formula with no rescaling: wkv_t = (Σ_{i<t} e^{(t−1−i)w + k_i} v_i + e^{u+k_t} v_t) / (same with v → 1).
        var previous = cat([zeros([Batch, 1, Config.Dim], ScalarType.Float64), x.narrow(1, 0, Time - 1)], 1);
        var k = mixer.key.call(Rwkv4.TokenShift(x, previous, mixer.time_mix_k));
        var v = mixer.value.call(Rwkv4.TokenShift(x, previous, mixer.time_mix_v));
        var r = mixer.receptance.call(Rwkv4.TokenShift(x, previous, mixer.time_mix_r)).sigmoid();
        var w = -mixer.time_decay.exp();
        var rows = new List<Tensor>();
        for (long t = 0; t < Time; t++)
        {
            var num = (mixer.time_first + k.select(1, t)).exp() * v.select(1, t);
            var den = (mixer.time_first + k.select(1, t)).exp();
            for (long i = 0; i < t; i++)
            {
                var weight = ((t - 1 - i) * w + k.select(1, i)).exp();
                num += weight * v.select(1, i);
                den += weight;
            }
            rows.Add(num / den);
        }
        var expected = mixer.output.call(r * stack(rows, 1));
        TensorAssert.Close(expected, actual, 1e-9, "stable vs plain WKV");
    }

    [Fact]
    public void HugeKeysDoNotOverflow()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mixer = TimeMix();
        mixer.key.weight.mul_(1000); // exponents in the thousands: e^k overflows even float64
        var (y, state) = mixer.Forward(Input(), null, returnFinal: true);
        Assert.True(y.isfinite().all().item<bool>(), "output has inf/NaN");
        Assert.True(((Rwkv4TimeMixState)state!).Wkv.A.isfinite().all().item<bool>());
        mixer.to(ScalarType.Float32);
        var (y32, _) = mixer.Forward(Input().to(ScalarType.Float32));
        Assert.True(y32.isfinite().all().item<bool>(), "float32 output has inf/NaN");
    }

    [Fact]
    public void TransformerConfigsKeepTheirParameters()
    {
        using var scope = NewDisposeScope();
        var model = new LanguageModel(new ModelConfig { Dim = 16, Heads = 2, Layers = 1, VocabSize = 11 });
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.DoesNotContain(names, n => n.StartsWith("embed_norm") || n == "norm.bias");
        Assert.IsType<RmsNorm>(model.norm);
        using var state = model.AllocateState(1, 4);
        Assert.IsType<KvCache>(state.Layers[0]);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EmptyChunkLeavesTheStateAlone(string which, bool _)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mixer = Make(which);
        var state = RandomState(mixer);
        var before = Copy(state)!;
        var (y, final) = mixer.Forward(Input(0), state, returnFinal: true);
        Assert.Equal([Batch, 0, Config.Dim], y.shape);
        Assert.Same(state, final);
        MixerRuns.SameState(before, state, 0, "after an empty chunk");
    }

    [Fact]
    public void WrongStateKindIsRejected()
    {
        using var scope = NewDisposeScope();
        var time = TimeMix();
        var channel = ChannelMix();
        using var wrong = channel.AllocateState(Batch, 4, ScalarType.Float64, CPU);
        Assert.Throws<ArgumentException>(() => time.Forward(Input(), wrong, true));
        Assert.Throws<ArgumentException>(() => time.Step(Input().select(1, 0), wrong));
    }
}

/// <summary>Every RWKV-4 mixer test again, with the fused CPU WKV kernel (the base class runs the tensor-op reference).</summary>
public sealed class Rwkv4FusedKernelTests : Rwkv4Tests
{
    protected override ScanBackend Backend => ScanBackend.Cpu;
}

/// <summary>Every RWKV-4 mixer test again with ILGPU's WKV kernels (on its CPU accelerator here, on CUDA where one exists).</summary>
public sealed class Rwkv4IlgpuKernelTests : Rwkv4Tests
{
    protected override ScanBackend Backend => ScanBackend.Ilgpu;
}
