using ArchLab.Engine;
using ArchLab.Models;

namespace ArchLab.Studies;

/// <summary>How far one weight format's engine is from the float32 engine on the same token windows.</summary>
/// <param name="MaxAbsLogitDifference">largest |logit − float32 logit| over every step, window and vocabulary entry</param>
/// <param name="MeanAbsLogitDifference">mean of the same</param>
/// <param name="LossNatsPerToken">next-token cross-entropy over the windows</param>
/// <param name="BitsPerByte">the loss in bits per byte of source text</param>
/// <param name="BitsPerByteChange">this format's bits per byte minus float32's</param>
public sealed record QuantizationResult(WeightFormat Format, long WeightBytesPerToken, double MaxAbsLogitDifference, double MeanAbsLogitDifference,
    double LossNatsPerToken, double BitsPerByte, double BitsPerByteChange);

/// <summary>
/// The cost of storing weights in bf16 or int8 (<see cref="WeightFormat"/>): every format's engine steps through the same
/// token windows in lockstep (a batch of windows, one token per step), and each step's logits are compared with the
/// float32 engine's; the loss on the windows' next tokens gives each format's bits per byte.
/// </summary>
public static class QuantizationError
{
    /// <param name="windows">token windows of equal length (a batch)</param>
    /// <param name="tokensPerByte">of the text the windows come from, to turn nats per token into bits per byte</param>
    public static IReadOnlyList<QuantizationResult> Measure(LanguageModel model, IReadOnlyList<int[]> windows, double tokensPerByte,
                                                            IReadOnlyList<WeightFormat> formats, int threads = 1)
    {
        if (windows.Count == 0 || windows[0].Length < 2) throw new ArgumentException("give at least one window of at least 2 tokens");
        int length = windows[0].Length, batch = windows.Count, vocab = model.Config.VocabSize;
        if (windows.Any(w => w.Length != length)) throw new ArgumentException("token windows must have the same length");
        var all = formats.Prepend(WeightFormat.Float32).Distinct().ToArray();
        using var pool = new WorkerPool(threads);
        var engines = all.Select(f => LeanModel.From(model, f, pool: pool)).ToArray();
        try
        {
            var states = engines.Select(e => e.AllocateState(batch, length)).ToArray();
            var loss = new double[all.Length];
            var maxDiff = new double[all.Length];
            var sumDiff = new double[all.Length];
            var tokens = new int[batch];
            var reference = new float[batch * vocab];
            for (int t = 0; t < length - 1; t++)
            {
                for (int b = 0; b < batch; b++) tokens[b] = windows[b][t];
                for (int f = 0; f < all.Length; f++)
                {
                    var logits = engines[f].Step(tokens, states[f]);
                    if (f == 0) logits.CopyTo(reference);
                    for (int b = 0; b < batch; b++)
                    {
                        var row = logits.Slice(b * vocab, vocab);
                        loss[f] += CrossEntropy(row, windows[b][t + 1]);
                        for (int v = 0; v < vocab; v++)
                        {
                            double d = Math.Abs(row[v] - reference[b * vocab + v]);
                            maxDiff[f] = Math.Max(maxDiff[f], d);
                            sumDiff[f] += d;
                        }
                    }
                }
            }
            double predictions = (double)batch * (length - 1);
            double Bpb(int f) => loss[f] / predictions * tokensPerByte / Math.Log(2);
            return all.Select((format, f) => new QuantizationResult(format, engines[f].WeightBytesPerToken, maxDiff[f],
                sumDiff[f] / (predictions * vocab), loss[f] / predictions, Bpb(f), Bpb(f) - Bpb(0))).ToArray();
        }
        finally
        {
            foreach (var e in engines) e.Dispose();
        }
    }

    static double CrossEntropy(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        return Math.Log(sum) + max - logits[target];
    }
}
