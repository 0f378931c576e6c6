using ArchLab.Engine;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Inference;

/// <summary>Which code runs the decoding steps: the lean engine (<see cref="LeanModel"/>) or the TorchSharp step path; by
/// default ("auto") the lean engine wherever every layer has a lean twin. The weight format and threads apply to the lean engine.</summary>
public sealed record EngineOptions(string Engine = "auto", WeightFormat Weights = WeightFormat.Float32, int Threads = 1)
{
    /// <summary>auto: the lean engine where every layer of the model has a lean twin, else TorchSharp's step.</summary>
    public static readonly string[] Engines = ["auto", "lean", "torch"];

    public static EngineOptions Torch => new("torch");

    public EngineOptions Validate()
    {
        if (!Engines.Contains(Engine)) throw new ArgumentException($"unknown engine '{Engine}' (use {string.Join(", ", Engines)})");
        if (Threads < 1 || Threads > 256) throw new ArgumentException($"engine threads must be between 1 and 256, got {Threads}");
        return this;
    }

    /// <summary>The engine that runs <paramref name="model"/>: "auto" becomes lean or torch (<paramref name="reason"/> says
    /// why not lean); an explicit choice stays.</summary>
    public EngineOptions Resolve(LanguageModel model, out string? reason)
    {
        reason = Engine == "auto" ? LeanModel.Unsupported(model) : null;
        return Engine != "auto" ? this : this with { Engine = reason is null ? "lean" : "torch" };
    }

    /// <summary>"lean engine, fp32 weights, 1 thread" or "TorchSharp step".</summary>
    public string Describe() => Engine == "lean"
        ? $"lean engine, {Weights.Name()} weights, {Threads} thread{(Threads == 1 ? "" : "s")}"
        : "TorchSharp step";
}

/// <summary>Prefill then one token per row per step, giving logits [rows, vocab] as a float array: what
/// <see cref="Generation"/> needs from an engine.</summary>
interface IStepDecoder : IDisposable
{
    /// <summary>ids [rows, length] (row-major) from an empty state; logits of the last position.</summary>
    ReadOnlySpan<float> Prefill(long[] ids, int rows, int length);

    ReadOnlySpan<float> Step(long[] next);

    static IStepDecoder Create(LanguageModel model, EngineOptions options, int rows, int capacity) =>
        options.Validate().Resolve(model, out _).Engine == "lean" ? new LeanDecoder(model, options, rows, capacity) : new TorchDecoder(model, rows, capacity);
}

/// <summary>The TorchSharp model's own prefill and step.</summary>
sealed class TorchDecoder(LanguageModel model, int rows, int capacity) : IStepDecoder
{
    readonly ModelState state = model.AllocateState(rows, capacity);
    readonly Device device = model.embed.weight!.device;
    float[] logits = [];

    public ReadOnlySpan<float> Prefill(long[] ids, int rows, int length)
    {
        using var scope = NewDisposeScope();
        using var input = tensor(ids, [rows, length], device: device);
        logits = model.Forward(input, state).select(1, -1).to(ScalarType.Float32).cpu().data<float>().ToArray();
        return logits;
    }

    public ReadOnlySpan<float> Step(long[] next)
    {
        using var scope = NewDisposeScope();
        logits = model.Step(tensor(next, device: device), state).to(ScalarType.Float32).cpu().data<float>().ToArray();
        return logits;
    }

    public void Dispose() => state.Dispose();
}

/// <summary>The lean engine: the prompt prefilled in one TorchSharp pass and its state handed over, then engine steps.</summary>
sealed class LeanDecoder : IStepDecoder
{
    readonly LanguageModel model;
    readonly LeanModel lean;
    readonly LeanState state;
    readonly int[] tokens;

    public LeanDecoder(LanguageModel model, EngineOptions options, int rows, int capacity)
    {
        this.model = model;
        lean = LeanModel.From(model, options.Weights, options.Threads);
        state = lean.AllocateState(rows, capacity);
        tokens = new int[rows];
    }

    public ReadOnlySpan<float> Prefill(long[] ids, int rows, int length)
    {
        using var scope = NewDisposeScope();
        using var torchState = model.AllocateState(rows, length);
        using var input = tensor(ids, [rows, length], device: model.embed.weight!.device);
        var logits = model.Forward(input, torchState).select(1, -1).to(ScalarType.Float32).cpu().data<float>().ToArray();
        lean.ImportState(torchState, state);
        return logits;
    }

    public ReadOnlySpan<float> Step(long[] next)
    {
        for (int r = 0; r < next.Length; r++) tokens[r] = (int)next[r];
        return lean.Step(tokens, state);
    }

    public void Dispose() => lean.Dispose();
}
