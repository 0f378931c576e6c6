namespace ArchLab.Inference;

/// <summary>Where a generation's wall time went: the parallel prefill, the first step (it pays one-time costs such as JIT
/// compilation), then the other steps. A step decodes one token for every row; its time includes sampling and the caller's
/// streaming callbacks. Tokens per second count the steps after the first, as llama2.c's "achieved tok/s" does.</summary>
public sealed class GenerationTimings
{
    public long PrefillTokens { get; private set; }
    public TimeSpan PrefillTime { get; private set; }
    public TimeSpan FirstStepTime { get; private set; }
    /// <summary>Steps after the first.</summary>
    public int Steps { get; private set; }
    public int Rows { get; private set; }
    public TimeSpan DecodeTime { get; private set; }

    /// <summary>Tokens per second over the steps, all rows together (0 before any step).</summary>
    public double DecodeTokensPerSecond => Steps == 0 ? 0 : Steps * (double)Rows / DecodeTime.TotalSeconds;

    internal void Prefilled(long tokens, TimeSpan time) => (PrefillTokens, PrefillTime) = (tokens, time);

    internal void FirstStep(TimeSpan time) => FirstStepTime = time;

    internal void Decoded(int steps, int rows, TimeSpan time) => (Steps, Rows, DecodeTime) = (steps, rows, time);

    /// <summary>One line for a console: "prefill 12 tokens in 3.1 ms; first step 40.2 ms; 198 steps × 1 row in 0.41 s: 485 tokens/s".</summary>
    public override string ToString() =>
        $"prefill {PrefillTokens} tokens in {PrefillTime.TotalMilliseconds:F1} ms; first step {FirstStepTime.TotalMilliseconds:F1} ms; " +
        $"{Steps} steps × {Rows} row{(Rows == 1 ? "" : "s")} in {DecodeTime.TotalSeconds:F2} s: {DecodeTokensPerSecond:F0} tokens/s";
}
