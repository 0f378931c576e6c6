using System.Diagnostics;
using ArchLab.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>The scan operations <see cref="ScanThroughput"/> measures.</summary>
public enum ScanOp { Selective, Wkv }

/// <summary>Times of one backend: forward (no grad) and forward+backward in ms (best of the repetitions), and the process
/// peak-RSS growth during one forward+backward in MiB.</summary>
public sealed record ScanTiming(double ForwardMs, double TrainMs, double PeakRssMiB);

/// <summary>
/// One row of <see cref="ScanThroughput"/>: one op at one length, the reference (null when skipped) and the fused kernel,
/// with the fused kernel's analytic traffic and arithmetic (see <see cref="ScanThroughput.Work"/>).
/// </summary>
public sealed record ScanBenchRow(ScanOp Op, int Length, ScanTiming? Reference, ScanTiming Fused,
                                  double ForwardBytes, double TrainBytes, double ForwardFlops, double TrainFlops)
{
    public double? ForwardSpeedup => Reference is null ? null : Reference.ForwardMs / Fused.ForwardMs;
    public double? TrainSpeedup => Reference is null ? null : Reference.TrainMs / Fused.TrainMs;
    public double ForwardGBps => ForwardBytes / Fused.ForwardMs / 1e6;
    public double TrainGBps => TrainBytes / Fused.TrainMs / 1e6;
    public double ForwardGflops => ForwardFlops / Fused.ForwardMs / 1e6;
    public double TrainGflops => TrainFlops / Fused.TrainMs / 1e6;
}

/// <summary>
/// Reference tensor-op loops vs the fused CPU kernels for Mamba's selective scan and RWKV-4's WKV, side by side in one
/// process (the backends alternate within every repetition, so machine noise hits both alike), plus the machine's copy
/// bandwidth and fp32 matmul rate measured in the same run, to say which limit each kernel is near.
/// </summary>
public static class ScanThroughput
{
    /// <summary>
    /// Analytic work of the fused kernels (element size s, float32 here). Bytes: each input and output tensor read or
    /// written once (the compulsory traffic; B and C rows re-read per channel from cache are not counted). FLOPs: every
    /// add, multiply, max, select, abs and exp counted as one, as the kernels execute them.
    /// <code>
    ///   selective fwd  bytes s(3BTE + 2BTN)           flops 7·BTEN + BTE      (ΔA, exp, a·h, Δx·B, +, h·C, +)
    ///             bwd  bytes s(5BTE + 4BTN)           flops 20·BTEN + 3BTE   (recompute 5, reverse 15 per element)
    ///   wkv       fwd  bytes s·3BTC                   flops 24·BTC           (two one-exp max-weights, ratio, update)
    ///             bwd  bytes s·5BTC                   flops 48·BTC           (recompute 26, reverse 22)
    /// </code>
    /// The forward+backward figures are the sums (the forward with grad also stores the block checkpoints, B·E·T/64·N
    /// values, negligible). Per-row terms (A, h0, state, dA) are left out: they are under 1% at these sizes.
    /// </summary>
    public static (double ForwardBytes, double TrainBytes, double ForwardFlops, double TrainFlops) Work(
        ScanOp op, long batch, long length, long channels, long stateSize, int elementSize = 4)
    {
        double bte = (double)batch * length * channels, btn = (double)batch * length * stateSize;
        if (op == ScanOp.Selective)
        {
            double fb = elementSize * (3 * bte + 2 * btn), bb = elementSize * (5 * bte + 4 * btn);
            double ff = 7 * bte * stateSize + bte, bf = 20 * bte * stateSize + 3 * bte;
            return (fb, fb + bb, ff, ff + bf);
        }
        return (elementSize * 3 * bte, elementSize * 8 * bte, 24 * bte, 72 * bte);
    }

    public static ScanBenchRow Measure(ScanOp op, int batch, int length, int channels, int stateSize, bool includeReference,
                                       int repetitions = 3)
    {
        torch.manual_seed(1);
        var inputs = op == ScanOp.Selective
            ? new[]
            {
                randn(batch, length, channels), nn.functional.softplus(randn(batch, length, channels) - 2), -exp(randn(channels, stateSize)),
                randn(batch, length, stateSize), randn(batch, length, stateSize), randn(batch, channels, stateSize),
            }
            : new[]
            {
                -exp(empty(channels).uniform_(-5, 3)), randn(channels), randn(batch, length, channels), randn(batch, length, channels),
            };
        foreach (var t in inputs) t.requires_grad_(true);

        // Upstream gradients made once: timing a loss reduction would time libtorch's thread wake-up, not the scan.
        var upstream = op == ScanOp.Selective
            ? new[] { randn(batch, length, channels), randn(batch, channels, stateSize) }
            : [randn(batch, length, channels), randn(batch, channels), randn(batch, channels)];
        Tensor[] Run(ScanBackend backend)
        {
            if (op == ScanOp.Selective)
            {
                var (y, last) = SelectiveScan.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], backend);
                return [y, last];
            }
            var (wkv, state) = Wkv4.Forward(inputs[0], inputs[1], inputs[2], inputs[3], null, backend);
            return [wkv, state.A, state.B];
        }
        double Forward(ScanBackend backend)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var clock = Stopwatch.StartNew();
            Run(backend);
            return clock.Elapsed.TotalMilliseconds;
        }
        double Train(ScanBackend backend)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            torch.autograd.backward(Run(backend), upstream);
            double ms = clock.Elapsed.TotalMilliseconds;
            foreach (var t in inputs) t.grad?.zero_();
            return ms;
        }
        double PeakRss(ScanBackend backend) => PeakRssGrowthMiB(() => Train(backend));

        var backends = includeReference ? new[] { ScanBackend.Reference, ScanBackend.Cpu } : [ScanBackend.Cpu];
        var forward = backends.ToDictionary(b => b, _ => double.MaxValue);
        var train = backends.ToDictionary(b => b, _ => double.MaxValue);
        var peak = backends.ToDictionary(b => b, PeakRss);                 // also the warm-up
        for (int r = 0; r < repetitions; r++)
            foreach (var b in backends)
            {
                forward[b] = Math.Min(forward[b], Forward(b));
                train[b] = Math.Min(train[b], Train(b));
            }
        foreach (var t in inputs.Concat(upstream)) t.Dispose();
        var work = Work(op, batch, length, channels, stateSize);
        ScanTiming Timing(ScanBackend b) => new(forward[b], train[b], peak[b]);
        return new ScanBenchRow(op, length, includeReference ? Timing(ScanBackend.Reference) : null, Timing(ScanBackend.Cpu),
                                work.ForwardBytes, work.TrainBytes, work.ForwardFlops, work.TrainFlops);
    }

    /// <summary>Copy bandwidth in GB/s (read + write bytes) of a 128 MiB float32 tensor copy, best of 5.</summary>
    public static double CopyGBps()
    {
        using var scope = NewDisposeScope();
        var source = rand(32L << 20);
        var target = empty_like(source);
        double best = double.MaxValue;
        for (int i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            target.copy_(source);
            double s = clock.Elapsed.TotalSeconds;
            if (i > 0) best = Math.Min(best, s);
        }
        return 2.0 * source.NumberOfElements * 4 / best / 1e9;
    }

    /// <summary>fp32 matmul rate in GFLOP/s (2n³ per product) at n = 1024, best of 5.</summary>
    public static double MatmulGflops(int n = 1024)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        double best = double.MaxValue;
        for (int i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.matmul(b);
            double s = clock.Elapsed.TotalSeconds;
            if (i > 0) best = Math.Min(best, s);
        }
        return 2.0 * n * n * n / best / 1e9;
    }

    /// <summary>How much the process's peak resident memory (VmHWM) rose above its resident memory while running
    /// <paramref name="action"/>, in MiB; NaN where /proc cannot reset the peak (see <see cref="ProcessMemory.PeakGrowthBytes"/>).</summary>
    public static double PeakRssGrowthMiB(Action action) =>
        ProcessMemory.PeakGrowthBytes(action) is long bytes ? bytes / (1024.0 * 1024.0) : double.NaN;
}
