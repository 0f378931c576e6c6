using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// Initialisations a recall study may start from. "gpt2" is ArchLab's own (N(0, 0.02) for every projection and embedding,
/// residual outputs scaled down by depth). "torch" re-initialises projections and embeddings with PyTorch's module
/// defaults, which is what Zoology's models start from: nn.Linear's U(±1/√fan_in) and nn.Embedding's N(0, 1).
/// At width 64 the projections start about 3.6× larger than under "gpt2", so attention scores are not near zero from the
/// start. Architecture-specific parameters (decays, A_log, norm gains, token-shift mixes) keep their own initialisation.
/// </summary>
public static class RecallInit
{
    public static readonly string[] Names = ["gpt2", "torch"];

    public static void Apply(LanguageModel model, string init)
    {
        switch (init)
        {
            case "gpt2": return;
            case "torch":
                using (no_grad())
                    foreach (var (_, module) in model.named_modules())
                    {
                        if (module is Projection p)
                        {
                            double bound = 1.0 / Math.Sqrt(p.weight.shape[1]);
                            p.weight.uniform_(-bound, bound);
                            if (p.bias is not null) p.bias.uniform_(-bound, bound);
                        }
                        else if (module is Embedding e) e.weight!.normal_(0.0, 1.0);
                    }
                return;
            default:
                throw new ArgumentException($"unknown initialisation '{init}' (known: {string.Join(", ", Names)})");
        }
    }
}
