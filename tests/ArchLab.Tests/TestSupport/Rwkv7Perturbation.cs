using ArchLab.Mixers;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Tests.TestSupport;

/// <summary>
/// RWKV-7's official init zeroes the time mix's output matrix, the channel mix's value matrix and the first half of every
/// LoRA pair, so a freshly built RWKV-7 layer adds nothing to the residual stream and a test comparing two
/// implementations of it could not fail. Adding noise to every RWKV-7 parameter (time and channel mix) makes each term
/// of the layer reach the logits.
/// </summary>
public static class Rwkv7Perturbation
{
    public static void Apply(LanguageModel model, double std = 0.1)
    {
        using var noGrad = no_grad();
        var modules = model.modules().Where(m => m is Rwkv7TimeMix or Rwkv7ChannelMix).ToList();
        if (modules.Count == 0) throw new ArgumentException("the model has no RWKV-7 layer to perturb");
        foreach (var module in modules)
            foreach (var p in module.parameters()) p.add_(randn(p.shape) * std);
    }
}
