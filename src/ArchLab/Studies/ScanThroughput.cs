using System.Diagnostics;
using ArchLab.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One row of <see cref="ScanThroughput"/>.</summary>
public sealed record ScanTimingRow(int Length, double ReferenceMs, double FusedMs)
{
    public double Speedup => ReferenceMs / FusedMs;
}

/// <summary>Forward + backward time of Mamba's selective scan, reference tensor-op loop vs fused CPU kernel, side by side
/// (best of a few repetitions after a warm-up, the two backends alternating).</summary>
public static class ScanThroughput
{
    public static ScanTimingRow Measure(int batch, int length, int channels, int stateSize, int repetitions = 3)
    {
        torch.manual_seed(1);
        var inputs = new[]
        {
            randn(batch, length, channels), nn.functional.softplus(randn(batch, length, channels) - 2), -exp(randn(channels, stateSize)),
            randn(batch, length, stateSize), randn(batch, length, stateSize), randn(batch, channels, stateSize),
        }.Select(t => t.detach().requires_grad_(true)).ToArray();

        double Once(ScanBackend backend)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var (y, last) = SelectiveScan.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], backend);
            (y.sum() + last.sum()).backward();
            double ms = clock.Elapsed.TotalMilliseconds;
            foreach (var t in inputs) t.grad?.zero_();
            return ms;
        }

        Once(ScanBackend.Reference); Once(ScanBackend.Auto); // warm-up
        double reference = double.MaxValue, fused = double.MaxValue;
        for (int r = 0; r < repetitions; r++)
        {
            reference = Math.Min(reference, Once(ScanBackend.Reference));
            fused = Math.Min(fused, Once(ScanBackend.Auto));
        }
        foreach (var t in inputs) t.Dispose();
        return new ScanTimingRow(length, reference, fused);
    }
}
