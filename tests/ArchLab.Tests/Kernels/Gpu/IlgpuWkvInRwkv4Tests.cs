using ArchLab.Kernels;
using ArchLab.Kernels.Gpu;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>
/// The ILGPU WKV wired into RWKV-4 time mixing the way Kernels/Gpu/README.md describes (w = −exp(time_decay), u =
/// time_first, the mixer state's A, B, P) reproduces <see cref="Rwkv4TimeMix.Forward"/>: output, final WKV state, and every
/// parameter's gradient of a loss on the output.
/// </summary>
public class IlgpuWkvInRwkv4Tests
{
    static readonly ModelConfig Config = new() { Arch = "rwkv4", Dim = 16, DimAtt = 12, FfnHidden = 40, Layers = 1, VocabSize = 23, Heads = 1 };

    [Fact]
    public void MatchesTimeMixForward()
    {
        using var scope = NewDisposeScope();
        const long batch = 2, time = 9;
        manual_seed(1);
        var mix = new Rwkv4TimeMix(Config, 0.02);
        mix.to(ScalarType.Float64);
        using (no_grad())
            foreach (var (name, p) in mix.named_parameters())
            {
                if (name.StartsWith("time_mix")) p.uniform_(0, 1);
                else if (name == "time_decay") p.uniform_(-5, 3);
                else if (name == "time_first") p.normal_(-1, 1);
                else p.normal_(0, 0.3);
            }
        var x = randn([batch, time, Config.Dim], ScalarType.Float64);
        var shift = randn([batch, Config.Dim], ScalarType.Float64);
        var a = randn([batch, Config.Rwkv.DimAttention], ScalarType.Float64);
        var b = rand([batch, Config.Rwkv.DimAttention], ScalarType.Float64) + 0.5;
        var p0 = 3 * randn([batch, Config.Rwkv.DimAttention], ScalarType.Float64);
        var weights = randn([batch, time, Config.Dim], ScalarType.Float64);

        // The module's own path (blocked WKV).
        var (expected, final) = mix.Forward(x, new Rwkv4TimeMixState(shift, new Wkv4State(a, b, p0)), returnFinal: true);
        var expectedState = (Rwkv4TimeMixState)final!;
        (expected * weights).sum().backward();
        var expectedGrads = mix.named_parameters().ToDictionary(np => np.name, np => np.parameter.grad!.clone());
        mix.zero_grad();

        // The same layer with the ILGPU WKV in place of the WKV loop.
        var previous = cat([shift.unsqueeze(1), x.narrow(1, 0, time - 1)], 1);
        var k = mix.key.call(Rwkv4.TokenShift(x, previous, mix.time_mix_k));
        var v = mix.value.call(Rwkv4.TokenShift(x, previous, mix.time_mix_v));
        var r = mix.receptance.call(Rwkv4.TokenShift(x, previous, mix.time_mix_r)).sigmoid();
        var wkv = IlgpuWkvFunction.Forward(-mix.time_decay.exp(), mix.time_first, k, v, new Wkv4State(a, b, p0), IlgpuTestAccelerator.Cpu);
        var actual = mix.output.call(r * wkv.Y);
        (actual * weights).sum().backward();

        TensorAssert.Close(expected, actual, 1e-10, "output");
        TensorAssert.Close(expectedState.Wkv.A, wkv.State.A, 1e-10, "A");
        TensorAssert.Close(expectedState.Wkv.B, wkv.State.B, 1e-10, "B");
        TensorAssert.Close(expectedState.Wkv.P, wkv.State.P, 1e-10, "P");
        foreach (var (name, parameter) in mix.named_parameters())
        {
            Assert.True(expectedGrads[name].abs().max().item<double>() > 1e-6, $"d{name} is trivially small");
            TensorAssert.Close(expectedGrads[name], parameter.grad!, IlgpuTestAccelerator.Tolerance(expectedGrads[name], 1e-9), "d" + name);
        }
    }
}
