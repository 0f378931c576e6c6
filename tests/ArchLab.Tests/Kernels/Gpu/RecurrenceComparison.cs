using ArchLab.Tests.TestSupport;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>Runs a recurrence (output, final state) = f(inputs…, initial state) through a reference and through an ILGPU
/// autograd function, and compares the output, the final state and the gradient of every input (the initial state's
/// included) of the loss Σ output·w_o + Σ state·w_s with fixed random weights.</summary>
static class RecurrenceComparison
{
    public delegate (Tensor Output, Tensor State) Recurrence(Tensor[] inputs);

    /// <summary>Leaves that require gradients, drawn from <paramref name="draw"/> with a local generator (tests run in parallel).</summary>
    public static Tensor[] Leaves(long seed, Func<Generator, Tensor[]> draw)
    {
        using var generator = new Generator((ulong)seed);
        return draw(generator).Select(t => t.detach().requires_grad_(true)).ToArray();
    }

    /// <summary>Asserts every quantity within <paramref name="relative"/> × max(1, its largest magnitude) and writes the
    /// largest such scaled error seen to the test log.</summary>
    public static void AssertClose(ITestOutputHelper log, Tensor[] inputs, string[] names, Recurrence reference, Recurrence ilgpu,
                                   double relative)
    {
        var expected = Run(inputs, reference);
        var actual = Run(inputs, ilgpu);
        Assert.Equal(inputs[0].dtype, actual.Output.dtype);
        double worst = 0;
        void Check(Tensor e, Tensor a, string what)
        {
            double scale = Math.Max(1, e.abs().max().to(ScalarType.Float64).item<double>());
            worst = Math.Max(worst, TensorAssert.MaxDiff(e, a) / scale);
            TensorAssert.Close(e, a, relative * scale, what);
        }
        Check(expected.Output, actual.Output, "output");
        Check(expected.State, actual.State, "final state");
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.True(expected.Grads[i].abs().max().to(ScalarType.Float64).item<double>() > 1e-3, $"d{names[i]} is trivially small");
            Check(expected.Grads[i], actual.Grads[i], "d" + names[i]);
        }
        log.WriteLine($"{inputs[0].dtype}: largest scaled difference {worst:E2}");
    }

    /// <summary>Asserts that a null initial state gives exactly the output and final state that zeros give.</summary>
    public static void AssertNullStateIsZeros(Tensor initialState, Func<Tensor?, (Tensor Output, Tensor State)> forward)
    {
        var (output, state) = forward(null);
        var (outputFromZeros, stateFromZeros) = forward(zeros_like(initialState));
        Assert.Equal(0, (output - outputFromZeros).abs().max().item<double>());
        Assert.Equal(0, (state - stateFromZeros).abs().max().item<double>());
    }

    /// <summary>Asserts that <paramref name="call"/> throws an ArgumentException whose message contains <paramref name="expected"/>.</summary>
    public static void AssertShapeError(string expected, Action call)
    {
        var ex = Assert.Throws<ArgumentException>(call);
        Assert.Contains(expected, ex.Message);
    }

    static (Tensor Output, Tensor State, Tensor[] Grads) Run(Tensor[] inputs, Recurrence recurrence)
    {
        foreach (var t in inputs) t.grad?.zero_();
        var (output, state) = recurrence(inputs);
        using var weights = new Generator(99);
        var wo = randn(output.shape, dtype: output.dtype, generator: weights);
        var ws = randn(state.shape, dtype: state.dtype, generator: weights);
        ((output * wo).sum() + (state * ws).sum()).backward();
        return (output.detach(), state.detach(), inputs.Select(t => t.grad!.clone()).ToArray());
    }
}
