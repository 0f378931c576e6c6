using ArchLab.Models;
using ArchLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>Mean next-token loss of the positions [Start, End) of the validation windows.</summary>
public sealed record PositionBucket(int Start, int End, double Loss, double TokensPerByte, long Tokens)
{
    public double BitsPerByte => Loss * TokensPerByte / Math.Log(2);
}

/// <summary>
/// Loss by position in the window: every validation window (consecutive, non-overlapping, as <see cref="Evaluator"/>
/// reads them) goes through the model in one parallel pass, and each position's loss is averaged over the windows, then
/// over buckets of positions. With windows longer than the training context this shows how a model extrapolates.
/// </summary>
public static class PositionLoss
{
    public static IReadOnlyList<PositionBucket> Evaluate(LanguageModel model, ITrainingData data, int maxBatches, int bucket, Device device)
    {
        if (bucket <= 0) throw new ArgumentException($"the bucket size must be positive, got {bucket}");
        bool wasTraining = model.training;
        model.eval();
        double[]? sums = null;
        long windows = 0;
        using (no_grad())
        {
            foreach (var (x, y) in data.ValidationBatches(maxBatches))
            {
                using var scope = NewDisposeScope();
                var logits = model.forward(x.to(device));
                var loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction: nn.Reduction.None)
                    .view(y.shape).to(ScalarType.Float64).sum([0L]).cpu();
                var perPosition = loss.data<double>().ToArray();
                sums ??= new double[perPosition.Length];
                for (int i = 0; i < perPosition.Length; i++) sums[i] += perPosition[i];
                windows += y.shape[0];
                x.Dispose(); y.Dispose();
            }
        }
        model.train(wasTraining);
        if (sums is null) throw new InvalidOperationException("validation set produced no batches");
        var buckets = new List<PositionBucket>();
        for (int start = 0; start < sums.Length; start += bucket)
        {
            int end = Math.Min(start + bucket, sums.Length);
            double total = 0;
            for (int i = start; i < end; i++) total += sums[i];
            long tokens = windows * (end - start);
            buckets.Add(new PositionBucket(start, end, total / tokens, data.ValidationTokensPerByte, tokens));
        }
        return buckets;
    }
}
