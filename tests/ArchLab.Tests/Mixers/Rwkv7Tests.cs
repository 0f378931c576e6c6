using ArchLab.Inference;
using ArchLab.Kernels.Reference;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>
/// RWKV-7: the chunked WKV equals the token loop (outputs, final state and gradients, any chunk size, from any state, split
/// anywhere); the mixer's whole-sequence pass, its steps and split passes agree; a whole model agrees across decode modes
/// and WKV forms; the official init values and state sizes.
/// </summary>
public class Rwkv7Tests
{
    const long Batch = 2, Time = 37, Heads = 3, N = 8;
    static readonly ModelConfig Config = new() { Arch = "rwkv7", Dim = 24, Heads = 3, FfnHidden = 40, Layers = 3, VocabSize = 23, DecayLora = 8, IclrLora = 6, ValueLora = 5, GateLora = 7 };

    /// <summary>WKV inputs as RWKV-7 makes them: log decays in (−e^{−½}, 0), a = −κ̂ and b = κ̂ ⊙ iclr with κ̂ unit per head.</summary>
    static Tensor[] WkvInputs(long time = Time, int seed = 1, bool requiresGrad = false)
    {
        torch.manual_seed(seed);
        var f64 = ScalarType.Float64;
        var r = randn([Batch, time, Heads, N], f64);
        var logW = -(-nn.functional.softplus(-3 * randn([Batch, time, Heads, N], f64)) - 0.5).exp();
        var k = randn([Batch, time, Heads, N], f64);
        var v = randn([Batch, time, Heads, N], f64);
        var kk = nn.functional.normalize(randn([Batch, time, Heads, N], f64), p: 2, dim: -1);
        var iclr = rand([Batch, time, Heads, N], f64);
        var inputs = new[] { r, logW, k, v, -kk, kk * iclr, randn([Batch, Heads, N, N], f64) };
        if (requiresGrad) foreach (var t in inputs) t.requires_grad_();
        return inputs;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(37)]
    [InlineData(64)]
    public void ChunkedWkvEqualsTheRecurrence(int chunk)
    {
        var x = WkvInputs();
        var (y0, s0) = Wkv7Reference.Recurrent(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
        var (y1, s1) = Wkv7Reference.Chunked(x[0], x[1], x[2], x[3], x[4], x[5], x[6], chunk);
        TensorAssert.Close(y0, y1, 1e-10, $"y, chunk {chunk}");
        TensorAssert.Close(s0, s1, 1e-10, $"final state, chunk {chunk}");
        Assert.True(y0.abs().max().item<double>() > 0.1, "the outputs are not trivially small");
    }

    [Fact]
    public void ChunkedWkvSplitInTwoEqualsOnePass()
    {
        var x = WkvInputs();
        var (whole, wholeState) = Wkv7Reference.Chunked(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
        Tensor Part(Tensor t, long start, long length) => t.narrow(1, start, length);
        var (first, middle) = Wkv7Reference.Chunked(Part(x[0], 0, 20), Part(x[1], 0, 20), Part(x[2], 0, 20), Part(x[3], 0, 20), Part(x[4], 0, 20), Part(x[5], 0, 20), x[6]);
        var (second, last) = Wkv7Reference.Chunked(Part(x[0], 20, 17), Part(x[1], 20, 17), Part(x[2], 20, 17), Part(x[3], 20, 17), Part(x[4], 20, 17), Part(x[5], 20, 17), middle);
        TensorAssert.Close(whole, cat([first, second], 1), 1e-10, "outputs");
        TensorAssert.Close(wholeState, last, 1e-10, "final state");
    }

    [Fact]
    public void ChunkedWkvGradientsEqualTheRecurrence()
    {
        Tensor[] Gradients(bool chunked)
        {
            var x = WkvInputs(requiresGrad: true);
            var (y, s) = chunked ? Wkv7Reference.Chunked(x[0], x[1], x[2], x[3], x[4], x[5], x[6], 8)
                                 : Wkv7Reference.Recurrent(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
            torch.manual_seed(9);
            var loss = (y * randn_like(y)).sum() + (s * randn_like(s)).sum();
            loss.backward();
            return x.Select(t => t.grad!.detach().clone()).ToArray();
        }
        var naive = Gradients(false);
        var chunkedGrads = Gradients(true);
        string[] names = ["r", "log w", "k", "v", "a", "b", "initial state"];
        for (int i = 0; i < naive.Length; i++)
        {
            Assert.True(naive[i].abs().max().item<double>() > 1e-3, $"gradient of {names[i]} is not trivially small");
            TensorAssert.Close(naive[i], chunkedGrads[i], 1e-9, $"gradient of {names[i]}");
        }
    }

    /// <summary>Every parameter of a module randomised in float64 (mixes in [0, 1], the rest around their official scale).</summary>
    static T Randomised<T>(T module, int seed) where T : nn.Module
    {
        torch.manual_seed(seed);
        module.to(ScalarType.Float64);
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (name.Split('.')[^1].StartsWith("x_")) p.uniform_(0, 1);
            else if (name.EndsWith("w0")) p.uniform_(-6, 2);
            else p.normal_(0, 0.3);
        }
        return module;
    }

    [Fact]
    public void FirstLayerForwardStepsAndSplitPassesAgree()
    {
        var mixer = Randomised(new Rwkv7TimeMix(Config, 0, new Rwkv7ValueResidual()), 2);
        torch.manual_seed(3);
        var x = randn([Batch, Time, Config.Dim], ScalarType.Float64);
        using var noGrad = no_grad();
        using var state = (Rwkv7TimeMixState)mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU);
        var (whole, final) = mixer.Forward(x, state, returnFinal: true);
        var wholeWkv = state.Wkv.clone();

        using var stepped = (Rwkv7TimeMixState)mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU);
        var steps = stack(Enumerable.Range(0, (int)Time).Select(t => mixer.Step(x.select(1, t), stepped)), 1);
        TensorAssert.Close(whole, steps, 1e-10, "steps");
        TensorAssert.Close(wholeWkv, stepped.Wkv, 1e-10, "state after steps");

        using var split = (Rwkv7TimeMixState)mixer.AllocateState(Batch, Time, ScalarType.Float64, CPU);
        var a = mixer.Forward(x.narrow(1, 0, 11), split, true).Output;
        var b = mixer.Forward(x.narrow(1, 11, Time - 11), split, true).Output;
        TensorAssert.Close(whole, cat([a, b], 1), 1e-10, "split in two");
        TensorAssert.Close(wholeWkv, split.Wkv, 1e-10, "state after split");
        Assert.Equal(Time, split.Position);
        Assert.Same(state, final);
    }

    [Theory]
    [InlineData(DecodeMode.Recurrent)]
    [InlineData(DecodeMode.PrefillStep)]
    [InlineData(DecodeMode.Chunked)]
    public void ModelDecodeModesAgreeWithTheParallelPass(DecodeMode mode)
    {
        using var model = Randomised(new LanguageModel(Config), 4);
        torch.manual_seed(5);
        var ids = randint(0, Config.VocabSize, [Batch, Time]);
        using var parallel = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        using var other = LogitsRunner.Run(model, ids, mode, prefill: 13, chunk: 6);
        TensorAssert.Close(parallel, other, 1e-10, mode.ToString());
        foreach (var m in model.modules().OfType<Rwkv7TimeMix>()) m.UseChunkedWkv = false;
        using var loop = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        TensorAssert.Close(parallel, loop, 1e-10, "recurrent WKV");
    }

    [Fact]
    public void ModelGradientsAgreeBetweenWkvForms()
    {
        using var model = Randomised(new LanguageModel(Config), 6);
        torch.manual_seed(7);
        var ids = randint(0, Config.VocabSize, [Batch, Time]);
        Dictionary<string, Tensor> Grads(bool chunked)
        {
            foreach (var m in model.modules().OfType<Rwkv7TimeMix>()) m.UseChunkedWkv = chunked;
            model.zero_grad();
            var logits = model.forward(ids);
            nn.functional.cross_entropy(logits.view(-1, Config.VocabSize), ids.view(-1)).backward();
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var loop = Grads(false);
        var chunked = Grads(true);
        Assert.True(loop["blocks.0.mixer.value.weight"].abs().max().item<double>() > 1e-4, "the first layer's value gets gradient (also through the value residual)");
        foreach (var (name, g) in loop) TensorAssert.Close(g, chunked[name], 1e-10, name);
    }

    [Fact]
    public void LaterLayerWithoutTheFirstLayersValueIsAnError()
    {
        var mixer = new Rwkv7TimeMix(Config, 1, new Rwkv7ValueResidual());
        var e = Assert.Throws<InvalidOperationException>(() => mixer.Forward(randn(1, 3, Config.Dim)));
        Assert.Contains("first RWKV-7 layer's value", e.Message);
    }

    [Fact]
    public void StateBytesAreWhatTheStateHolds()
    {
        var mixer = new Rwkv7TimeMix(Config, 0, new Rwkv7ValueResidual());
        using var state = mixer.AllocateState(Batch, 100, ScalarType.Float32, CPU);
        Assert.Equal(state.Bytes, mixer.StateBytes(Batch, 100, ScalarType.Float32));
        Assert.Equal(Batch * (Config.Dim + Heads * N * N) * 4, state.Bytes);
    }

    [Fact]
    public void OfficialInitValues()
    {
        // rwkv_v7_demo.py's constants for the 0.1B model (n_embd 768) are the train_temp suggestions.
        Assert.Equal((64, 64, 32, 128), (Rwkv7.SuggestedLora(768, 2.5), Rwkv7.SuggestedLora(768, 2.5), Rwkv7.SuggestedLora(768, 1.7), Rwkv7.SuggestedLora(768, 5)));
        var config = Config with { Dim = 64, Heads = 4, Layers = 2, DecayLora = null, IclrLora = null, ValueLora = null, GateLora = null };
        var first = new Rwkv7TimeMix(config, 0, new Rwkv7ValueResidual());
        var second = new Rwkv7TimeMix(config, 1, new Rwkv7ValueResidual());
        Assert.Null(first.v1);
        Assert.Equal([64L, 32L], second.v1!.shape);
        // w0[0] = −6 + 0.5 + 2.5·zigzag[0] with zigzag[0] = −1; r_k = −0.04; k_a = 1.02; ln_x weight ((1 + l)/L)^0.7
        Assert.Equal(-8.0, first.w0[0].item<float>(), 5);
        Assert.Equal(-0.04, first.r_k[1, 2].item<float>(), 6);
        Assert.Equal(1.02, first.k_a[5].item<float>(), 6);
        Assert.Equal(Math.Pow(0.5, 0.7), first.ln_x.weight![0].item<float>(), 6);
        Assert.Equal(1.0, second.ln_x.weight![0].item<float>(), 6);
        Assert.Equal(0.0, first.ln_x.bias!.abs().max().item<float>()); // TorchSharp's GroupNorm does not zero it itself
        Assert.Equal(0.0, first.output.weight.abs().max().item<float>());
        Assert.Equal(0.0, first.w1.abs().max().item<float>());
        // x_r = 1 − (i/C)^(0.2·(1 − l/L)): channel 0 is 1, channel 32 of layer 0 is 1 − 0.5^0.2
        Assert.Equal(1.0, first.x_r[0].item<float>(), 6);
        Assert.Equal(1 - Math.Pow(0.5, 0.2), first.x_r[32].item<float>(), 6);
        var ffn = new Rwkv7ChannelMix(64, 256, 1, 2);
        Assert.Equal(1 - Math.Pow(0.5, Math.Pow(0.5, 4)), ffn.x_k[32].item<float>(), 6);
        Assert.Equal(0.0, ffn.value.weight.abs().max().item<float>());
    }
}
