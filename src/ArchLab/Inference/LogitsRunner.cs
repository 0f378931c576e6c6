using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Inference;

/// <summary>Computes logits [batch, time, vocab] for ids [batch, time] in any <see cref="DecodeMode"/> (used to check ports against official code).</summary>
public static class LogitsRunner
{
    public static Tensor Run(LanguageModel model, Tensor ids, DecodeMode mode, int prefill = 16, int chunk = 8)
    {
        if (ids.dim() != 2) throw new ArgumentException($"input_ids must be [batch, time], got {ids.dim()} dimensions");
        if (prefill < 0) throw new ArgumentException($"prefill must be ≥ 0, got {prefill}");
        if (chunk <= 0) throw new ArgumentException($"chunk must be positive, got {chunk}");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long batch = ids.shape[0], time = ids.shape[1];
        if (mode == DecodeMode.Parallel) return model.forward(ids).MoveToOuterDisposeScope();

        using var state = model.AllocateState(batch, time);
        var pieces = new List<Tensor>();
        long t = 0;
        if (mode == DecodeMode.PrefillStep && prefill > 0)
        {
            long n = Math.Min(prefill, time);
            pieces.Add(model.Forward(ids.narrow(1, 0, n), state));
            t = n;
        }
        if (mode == DecodeMode.Chunked)
        {
            for (; t < time; t += chunk)
                pieces.Add(model.Forward(ids.narrow(1, t, Math.Min(chunk, time - t)), state));
        }
        for (; t < time; t++)
            pieces.Add(model.Step(ids.select(1, t), state).unsqueeze(1));
        return cat(pieces, 1).MoveToOuterDisposeScope();
    }
}
