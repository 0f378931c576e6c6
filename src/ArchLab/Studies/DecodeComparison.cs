using System.Diagnostics;
using ArchLab.Engine;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One configuration of <see cref="DecodeComparison"/>: which engine, weight format and thread count steps which
/// model, for how many sequences at once, at which context position.</summary>
public sealed record DecodeCase(string Engine, WeightFormat Weights, int Threads, string Arch, LanguageModel Model, int Batch, int Position);

/// <summary>A measured <see cref="DecodeCase"/>. Times are per step (one token for each of <c>Batch</c> sequences).</summary>
/// <param name="WeightBytesPerToken">bytes of weights one step reads, divided by the batch</param>
/// <param name="CopyBytesPerSecond">STREAM-copy bandwidth on the same number of threads (bytes read + written per second),
/// median of the measurements taken between the timing rounds (<see cref="CopyBandwidth"/>)</param>
/// <param name="ReadBytesPerSecond">read-only bandwidth on the same threads, measured the same way</param>
/// <param name="FractionOfBandwidth">weight bytes read per second over the copy bandwidth (the llama2.c yardstick)</param>
/// <param name="TensorsPerStep">TorchSharp tensors one step creates (about its dispatches); 0 for the lean engine</param>
/// <param name="WeightsReadBytesPerSecond">read-only bandwidth over a buffer as large as the step's weights, read again and
/// again on the same threads (<see cref="CopyBandwidth.ReadResident"/>): how fast the weights can come from wherever they
/// stay between steps (L2, L3 or memory); median of the measurements between the timing rounds</param>
public sealed record DecodeMeasurement(DecodeCase Case, double MedianMs, double P10Ms, double P90Ms, double TokensPerSecond,
    double WeightBytesPerToken, long StateBytes, double CopyBytesPerSecond, double ReadBytesPerSecond, double FractionOfBandwidth,
    long TensorsPerStep, double AdvanceSeconds, double WeightsReadBytesPerSecond)
{
    /// <summary>Weight bytes read per second over the read-only bandwidth.</summary>
    public double FractionOfReadBandwidth => FractionOfBandwidth * CopyBytesPerSecond / ReadBytesPerSecond;

    /// <summary>Weight bytes read per second over <see cref="WeightsReadBytesPerSecond"/>: 1 is a step that does nothing but
    /// read its weights from where they stay.</summary>
    public double FractionOfWeightsRead => FractionOfBandwidth * CopyBytesPerSecond / WeightsReadBytesPerSecond;
}

/// <summary>
/// Decode speed of the TorchSharp step path and the lean engine side by side, per weight format, thread count, batch size
/// and context position. Each case gets a state allocated for its position plus the timed steps and advanced to the
/// position: a KV cache with random keys and values (a step's cost does not depend on them, and a real 64k prefill is
/// O(n²)), a recurrent state by a chunked TorchSharp prefill of random tokens (handed to the engine). Then all cases are
/// timed interleaved, in rounds of a few steps each, with the copy bandwidth (and the read bandwidth over a buffer the size
/// of each case's weights) measured between rounds on each thread count, so that a shared machine's load falls on every
/// case alike and the ratios hold. The median step is reported.
/// <para>What is timed is steady decoding, where a small model's weights stay in the CPU's caches from token to token.
/// The bandwidth probe streams 128 MiB through the caches and a long-context case streams its whole KV cache, and after
/// either a dim-128 model (3.6 MB of weights) measured here took 10–15 steps, not one, to get back to its steady speed:
/// its steps fell gradually from 0.17 to 0.076 ms (spinning for 3 ms instead did not help, so it is the caches refilling,
/// not time). So each case's timed steps in a round follow <see cref="SettleSteps"/> untimed steps of the same case, and
/// each round starts with the next case. The state starts half the steps before the case's position, so the timed steps
/// are centred on it (a KV cache's cost grows with its length).</para>
/// </summary>
public static class DecodeComparison
{
    public static readonly string[] Engines = ["lean", "torch"];

    public static IReadOnlyList<DecodeMeasurement> Measure(IReadOnlyList<DecodeCase> cases, int rounds, int stepsPerRound, int warmup,
                                                          TextWriter? log = null)
    {
        foreach (var c in cases)
            if (!Engines.Contains(c.Engine)) throw new ArgumentException($"unknown engine '{c.Engine}' (use {string.Join(", ", Engines)})");
        int totalSteps = warmup + rounds * (SettleSteps + stepsPerRound);
        var pools = cases.Select(c => c.Threads).Distinct().ToDictionary(t => t, t => new WorkerPool(t));
        var leans = new Dictionary<(LanguageModel, WeightFormat, int), LeanModel>();
        var runners = new List<Runner>();
        try
        {
            using var noGrad = no_grad();
            foreach (var c in cases)
            {
                var clock = Stopwatch.StartNew();
                Runner runner;
                if (c.Engine == "lean")
                {
                    var key = (c.Model, c.Weights, c.Threads);
                    if (!leans.TryGetValue(key, out var lean)) leans[key] = lean = LeanModel.From(c.Model, c.Weights, pool: pools[c.Threads]);
                    runner = new LeanRunner(c, lean, totalSteps);
                }
                else runner = new TorchRunner(c, totalSteps);
                runner.AdvanceSeconds = clock.Elapsed.TotalSeconds;
                runners.Add(runner);
                log?.WriteLine($"  {Label(c)} ready at position {runner.Start} in {runner.AdvanceSeconds:F1} s");
            }
            foreach (var r in runners) for (int i = 0; i < warmup; i++) r.Step();
            var copies = pools.ToDictionary(p => p.Key, p => new CopyBandwidth(p.Value));
            var bandwidth = pools.Keys.ToDictionary(t => t, _ => new List<double>());
            var readBandwidth = pools.Keys.ToDictionary(t => t, _ => new List<double>());
            var weightsRead = runners.Select(r => (r.Case.Threads, Bytes: (long)r.WeightBytesPerStep)).Distinct()
                .ToDictionary(k => k, _ => new List<double>());
            var times = runners.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < rounds; round++)
            {
                foreach (var (threads, copy) in copies)
                {
                    bandwidth[threads].Add(copy.Copy(1));
                    readBandwidth[threads].Add(copy.Read(1));
                }
                foreach (var ((threads, bytes), rates) in weightsRead) rates.Add(copies[threads].ReadResident(bytes));
                for (int turn = 0; turn < runners.Count; turn++)
                {
                    int j = (turn + round) % runners.Count; // each round starts with the next case (see the class summary)
                    for (int i = 0; i < SettleSteps; i++) runners[j].Step(); // untimed: this case's weights back in the caches
                    for (int i = 0; i < stepsPerRound; i++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        runners[j].Step();
                        times[j].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
                }
            }
            var results = new List<DecodeMeasurement>();
            for (int j = 0; j < runners.Count; j++)
            {
                var r = runners[j];
                var c = r.Case;
                var t = times[j].Order().ToArray();
                double median = t[t.Length / 2];
                double copyRate = Median(bandwidth[c.Threads]);
                double weightBytes = r.WeightBytesPerStep;
                results.Add(new DecodeMeasurement(c, median, t[t.Length / 10], t[t.Length * 9 / 10], c.Batch * 1000 / median,
                    weightBytes / c.Batch, r.StateBytes, copyRate, Median(readBandwidth[c.Threads]), weightBytes * 1000 / median / copyRate,
                    r.CountTensorsPerStep(), r.AdvanceSeconds, Median(weightsRead[(c.Threads, (long)weightBytes)])));
            }
            return results;
        }
        finally
        {
            foreach (var r in runners) r.Dispose();
            foreach (var l in leans.Values) l.Dispose();
            foreach (var p in pools.Values) p.Dispose();
        }
    }

    public static string Label(DecodeCase c) =>
        $"{c.Arch} {c.Engine}{(c.Engine == "lean" ? " " + c.Weights.Name() : "")} {c.Threads}t b{c.Batch}";

    static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>Bytes a float32 TorchSharp step reads in weights: every parameter but the embedding table, and the head.</summary>
    static double TorchWeightBytes(LanguageModel model) => 4.0 * (model.NonEmbeddingParameters + (long)model.Config.VocabSize * model.Config.Dim);

    /// <summary>Untimed steps before a case's timed steps in every round (see the class summary).</summary>
    public const int SettleSteps = 16;

    abstract class Runner(DecodeCase c, int steps) : IDisposable
    {
        public DecodeCase Case { get; } = c;

        /// <summary>Where the state starts: half the steps before the case's position, so the timed steps centre on it.</summary>
        public int Start { get; } = Math.Max(0, c.Position - steps / 2);

        /// <summary>Tokens the state must hold: the start, every step of the measurement, and the one step
        /// <see cref="CountTensorsPerStep"/> takes after it.</summary>
        protected int Capacity => Start + steps + 1;
        public double AdvanceSeconds { get; set; }
        public abstract double WeightBytesPerStep { get; }
        public abstract long StateBytes { get; }
        public abstract void Step();
        public virtual long CountTensorsPerStep() => 0;
        public virtual void Dispose() { }

        /// <summary>A TorchSharp state at the case's position: filled with arbitrary contents where every layer's state
        /// allows it (KV caches), else by a chunked prefill of random tokens.</summary>
        protected static ModelState TorchStateAt(DecodeCase c, int position, int capacity, int chunk = 512)
        {
            var state = c.Model.AllocateState(c.Batch, capacity);
            if (state.TryFillArbitrary(position, new Random(7))) return state;
            for (int done = 0; done < position; done += chunk)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(chunk, position - done);
                c.Model.Forward(randint(0, c.Model.Config.VocabSize, [c.Batch, n]), state);
            }
            return state;
        }
    }

    sealed class TorchRunner : Runner
    {
        readonly ModelState state;
        readonly Tensor tokens;

        public TorchRunner(DecodeCase c, int steps) : base(c, steps)
        {
            torch.set_num_threads(c.Threads);
            c.Model.eval();
            state = TorchStateAt(c, Start, Capacity);
            tokens = tensor(Enumerable.Repeat((long)Math.Min(65, c.Model.Config.VocabSize - 1), c.Batch).ToArray());
        }

        public override double WeightBytesPerStep => TorchWeightBytes(Case.Model);
        public override long StateBytes => Case.Model.StateBytes(Case.Batch, Case.Position);

        public override void Step()
        {
            if (torch.get_num_threads() != Case.Threads) torch.set_num_threads(Case.Threads);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Case.Model.Step(tokens, state);
        }

        public override long CountTensorsPerStep()
        {
            long before = DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount;
            Step();
            return DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount - before;
        }

        public override void Dispose() { state.Dispose(); tokens.Dispose(); }
    }

    sealed class LeanRunner : Runner
    {
        readonly LeanModel lean;
        readonly LeanState state;
        readonly int[] tokens;

        public LeanRunner(DecodeCase c, LeanModel lean, int steps) : base(c, steps)
        {
            this.lean = lean;
            state = lean.AllocateState(c.Batch, Capacity);
            if (!lean.TryFillArbitrary(state, Start, new Random(7)))
            {
                c.Model.eval();
                using var torchState = TorchStateAt(c, Start, Math.Max(Start, 1));
                lean.ImportState(torchState, state);
            }
            tokens = Enumerable.Repeat(Math.Min(65, c.Model.Config.VocabSize - 1), c.Batch).ToArray();
        }

        public override double WeightBytesPerStep => lean.WeightBytesPerToken;
        public override long StateBytes => Case.Model.StateBytes(Case.Batch, Case.Position);
        public override void Step() => lean.Step(tokens, state);
    }
}
