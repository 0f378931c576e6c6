using ArchLab.Kernels;
using ArchLab.Mixers;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>Mamba-2, RWKV-7 and Gated DeltaNet consult their scan backend: with ilgpu their recurrence goes to the ILGPU
/// kernels, which refuse bfloat16 with the ilgpu backend's one-line error (the tensor-op token loops run it), and with
/// reference or auto on CPU tensors they keep the tensor-op path. (Equality of the outputs on every backend is the
/// conformance suite's.)</summary>
public class IlgpuMixerWiringTests
{
    [Theory]
    [InlineData("mamba2", "ssd")]
    [InlineData("rwkv7", "wkv7")]
    [InlineData("gated_deltanet", "gated delta rule")]
    public void IlgpuBackendRunsTheKernel(string name, string op)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var config = new ModelConfig { Arch = name, Layers = 1, Dim = 16, Heads = 2, VocabSize = 23, ContextLength = 8 }.Validate();
        using var mixer = MixerRegistry.Create(name, config, 0.02);
        mixer.to(ScalarType.BFloat16);
        // the token loops: the chunked forms' triangular solve has no bfloat16 CPU kernel in libtorch
        if (mixer is Rwkv7TimeMix rwkv7) rwkv7.UseChunkedWkv = false;
        if (mixer is GatedDeltaNet deltaNet) deltaNet.Form = GatedDeltaRuleForm.Recurrent;
        var x = randn([1, 3, 16], ScalarType.BFloat16, generator: new torch.Generator(1));

        mixer.ScanBackend = ScanBackend.Reference;
        Assert.Equal(ScalarType.BFloat16, mixer.Forward(x).Output.dtype);
        mixer.ScanBackend = ScanBackend.Auto;                      // CPU tensors: auto keeps the tensor-op path
        Assert.Equal(ScalarType.BFloat16, mixer.Forward(x).Output.dtype);

        mixer.ScanBackend = ScanBackend.Ilgpu;
        var ex = Assert.Throws<ArgumentException>(() => mixer.Forward(x));
        Assert.Equal($"{op}: the ilgpu backend needs float32 or float64 tensors, got BFloat16", ex.Message);
    }
}
