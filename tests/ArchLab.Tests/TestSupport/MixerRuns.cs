using ArchLab.Mixers;
using static TorchSharp.torch;

namespace ArchLab.Tests.TestSupport;

/// <summary>The ways of running a mixer over a sequence that must agree, shared by the conformance suite and the mixers'
/// own tests: the whole sequence at once, token by token, in chunks; and comparing what they leave in the state.</summary>
public static class MixerRuns
{
    /// <summary>Every token through <see cref="Mixer.Step"/> from <paramref name="state"/> (a new empty one when null).</summary>
    public static (Tensor Output, MixerState Final) Stepped(Mixer mixer, Tensor x, MixerState? state = null)
    {
        state ??= mixer.AllocateState(x.shape[0], x.shape[1], x.dtype, x.device);
        var pieces = Enumerable.Range(0, (int)x.shape[1]).Select(t => mixer.Step(x.select(1, t), state).unsqueeze(1)).ToList();
        return (cat(pieces, 1), state);
    }

    /// <summary>Consecutive chunks of the given sizes through <see cref="Mixer.Forward"/> (the last size repeats), each
    /// continuing from the state the previous one returned; from <paramref name="state"/> or, when null, an empty start.</summary>
    public static (Tensor Output, MixerState Final) Chunked(Mixer mixer, Tensor x, MixerState? state, params long[] sizes)
    {
        var pieces = new List<Tensor>();
        long t = 0;
        for (int i = 0; t < x.shape[1]; i++)
        {
            long n = Math.Min(i < sizes.Length ? sizes[i] : sizes[^1], x.shape[1] - t);
            var (y, final) = mixer.Forward(x.narrow(1, t, n), state, returnFinal: true);
            state = final ?? throw new InvalidOperationException($"{mixer.GetType().Name}.Forward returned no final state");
            pieces.Add(y);
            t += n;
        }
        return (cat(pieces, 1), state!);
    }

    /// <summary>Same position and same <see cref="MixerState.Values"/> within <paramref name="atol"/>.</summary>
    public static void SameState(MixerState expected, MixerState actual, double atol, string what)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        Assert.True(expected.Position == actual.Position, $"{what}: position {actual.Position}, expected {expected.Position}");
        var (e, a) = (expected.Values, actual.Values);
        Assert.Equal(e.Count, a.Count);
        for (int i = 0; i < e.Count; i++)
        {
            Assert.Equal(e[i].shape, a[i].shape);
            if (e[i].NumberOfElements > 0) TensorAssert.Close(e[i], a[i], atol, $"{what}: state tensor {i}"); // Mamba with d_conv 1 has an empty conv state
        }
    }

    /// <summary>Gradients of Σ run(x)·weights with respect to every parameter of <paramref name="module"/> and to x.</summary>
    public static Dictionary<string, Tensor> Gradients(TorchSharp.torch.nn.Module module, Tensor x, Tensor weights, Func<Tensor, Tensor> run)
    {
        module.zero_grad();
        var input = x.detach().clone().requires_grad_(true);
        (run(input) * weights).sum().backward();
        var grads = module.named_parameters().Where(p => p.parameter.grad is not null)
                          .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
        grads["input"] = input.grad!.detach().clone();
        return grads;
    }
}
