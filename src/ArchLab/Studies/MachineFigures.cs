using System.Diagnostics;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>
/// What this machine does with the current libtorch thread count, measured: the cost of dispatching one small op
/// (TorchSharp → libtorch), the float32 matmul rate and the memory copy bandwidth. Used to say what a lean C decoder
/// (llama2.c-class) would reach: max(FLOPs / rate, bytes / bandwidth) per token.
/// </summary>
public sealed record MachineFigures(double MicrosecondsPerOp, double FlopsPerSecond, double BytesPerSecond)
{
    public static MachineFigures Measure()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // dispatch: an add of two 8-element tensors, best of 5 × 2000
        var a = ones(8); var b = ones(8);
        double opUs = double.MaxValue;
        for (int r = 0; r < 5; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < 2000; i++) { using var c = a + b; }
            opUs = Math.Min(opUs, Stopwatch.GetElapsedTime(start).TotalMicroseconds / 2000);
        }
        // matmul rate: 512³, best of 5
        var m = randn(512, 512);
        double flops = 0;
        for (int r = 0; r < 5; r++)
        {
            long start = Stopwatch.GetTimestamp();
            using var p = m.matmul(m);
            flops = Math.Max(flops, 2.0 * 512 * 512 * 512 / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        // bandwidth: copy 64 MiB into a preallocated tensor (read + write), best of 5
        var src = rand(16L << 20); var dst = empty(16L << 20);
        double bandwidth = 0;
        for (int r = 0; r < 5; r++)
        {
            long start = Stopwatch.GetTimestamp();
            dst.copy_(src);
            bandwidth = Math.Max(bandwidth, 2.0 * 4 * (16L << 20) / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return new MachineFigures(opUs, flops, bandwidth);
    }
}
