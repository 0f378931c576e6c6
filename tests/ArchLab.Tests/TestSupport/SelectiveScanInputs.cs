using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.TestSupport;

/// <summary>Random selective-scan inputs (x, Δ = softplus(·), A = −exp(·), B, C and optionally h0) as gradient leaves,
/// the shapes <see cref="ArchLab.Kernels.SelectiveScan"/> takes; shared by the kernel tests of every backend.</summary>
public static class SelectiveScanInputs
{
    public static Tensor[] Random(ScalarType dtype, bool withH0, int batch, int time, int inner, int state, long seed)
    {
        manual_seed(seed);
        var list = new List<Tensor>
        {
            randn(batch, time, inner, dtype: dtype),
            nn.functional.softplus(randn(batch, time, inner, dtype: dtype)),
            -exp(0.5 * randn(inner, state, dtype: dtype)),
            randn(batch, time, state, dtype: dtype),
            randn(batch, time, state, dtype: dtype),
        };
        if (withH0) list.Add(0.5 * randn(batch, inner, state, dtype: dtype));
        return list.Select(t => t.detach().requires_grad_(true)).ToArray();
    }
}
