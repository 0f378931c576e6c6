using System.Diagnostics;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One configuration of <see cref="TrainingMemory"/>.</summary>
/// <param name="RssBeforeBytes">VmRSS with the model built and the batch made, before the first step</param>
/// <param name="PeakRssBytes">VmHWM after the steps: the process's high-water mark</param>
/// <param name="StepSeconds">the fastest timed step (forward + backward)</param>
public sealed record TrainingMemoryPoint(string Arch, string Mode, int SeqLen, int Batch, long Parameters, long RssBeforeBytes,
    long PeakRssBytes, double StepSeconds)
{
    /// <summary>Peak minus the resident memory before the step: what the step itself added at its peak (activations
    /// kept for backward, gradients, temporaries).</summary>
    public long StepPeakBytes => PeakRssBytes - RssBeforeBytes;
}

/// <summary>
/// Peak memory and time of one training step (forward, cross-entropy, backward; no optimizer, whose state does not
/// depend on the sequence length) at one sequence length. VmHWM is a process-wide high-water mark that never goes
/// down, so this is meant to run once per fresh process: <c>archlab bench memory</c> starts one child per configuration.
/// </summary>
public static class TrainingMemory
{
    public static TrainingMemoryPoint MeasureStep(ModelConfig config, string mode, int batch, int seqLen, int timedSteps = 1)
    {
        torch.manual_seed(1);
        using var model = new LanguageModel(config);
        model.train();
        using var ids = randint(0, config.VocabSize, [batch, seqLen + 1]);
        using var x = ids.narrow(1, 0, seqLen).contiguous();
        using var y = ids.narrow(1, 1, seqLen).contiguous();
        GC.Collect();
        long before = ProcessMemory.CurrentBytes();
        double best = double.MaxValue;
        for (int i = 0; i < 1 + timedSteps; i++) // the first step warms up (and counts for the peak like the others)
        {
            using var scope = NewDisposeScope();
            long start = Stopwatch.GetTimestamp();
            var logits = model.forward(x);
            var loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten());
            loss.backward();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (i > 0) best = Math.Min(best, seconds);
            model.zero_grad();
        }
        return new TrainingMemoryPoint(config.Arch, mode, seqLen, batch, model.TotalParameters, before, ProcessMemory.PeakBytes(), best);
    }
}
