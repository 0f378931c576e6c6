using ArchLab.Kernels.Gpu;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>One ILGPU CPU-accelerator instance for all GPU-kernel tests (kernels compile once per element type), CUDA
/// disabled so the tests run the same everywhere.</summary>
static class IlgpuTestAccelerator
{
    static readonly Lazy<IlgpuScans> cpu = new(() => new IlgpuScans(allowCuda: false));

    public static IlgpuScans Cpu => cpu.Value;

    /// <summary>Absolute tolerance scaled by the magnitude of the expected tensor.</summary>
    public static double Tolerance(TorchSharp.torch.Tensor expected, double relative) =>
        relative * Math.Max(1, expected.abs().max().to(TorchSharp.torch.ScalarType.Float64).item<double>());
}
