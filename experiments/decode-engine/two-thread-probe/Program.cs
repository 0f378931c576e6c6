// The matrix products of one RWKV-4 decode step at the issue's small shape (dim 128, MLP 512, vocab 512, 4 layers), with
// the engine's float32 matrices (src/ArchLab/Engine/Matrices), timed four ways in interleaved rounds on this machine:
//   1 thread:            every product whole, one after another (what the engine's step does between its other work);
//   2 threads + barrier: each matrix cut in two halves by rows, one per thread, and a spin barrier after each phase (a
//                        phase is the products that need the same input: K, V, R | O | key, receptance | value, per layer,
//                        then the head), the least synchronisation a split step could have;
//   2 threads, no sync:  each thread runs all its halves back to back: what two cores' reading alone costs;
//   barriers alone:      the 17 barriers with no products.
// Only the products: the step's element-wise work (norms, token shift, WKV) comes on top in every mode.
using System.Diagnostics;
using ArchLab.Engine;
using ArchLab.Engine.Matrices;

const int Dim = 128, Hidden = 512, Vocab = 512, Layers = 4, Rounds = 15, Steps = 400;
var random = new Random(1);
float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();

// (rows, cols) of each phase's matrices.
var phaseShapes = new List<(int Rows, int Cols)[]>();
for (int l = 0; l < Layers; l++)
{
    phaseShapes.Add([(Dim, Dim), (Dim, Dim), (Dim, Dim)]);  // time mixing: key, value, receptance
    phaseShapes.Add([(Dim, Dim)]);                          // time mixing: output
    phaseShapes.Add([(Hidden, Dim), (Dim, Dim)]);           // channel mixing: key, receptance
    phaseShapes.Add([(Dim, Hidden)]);                       // channel mixing: value
}
phaseShapes.Add([(Vocab, Dim)]);                            // head

// Each matrix whole, and as two halves by rows (the halves hold the same weights).
var whole = new List<Float32Matrix[]>();
var halves = new List<Float32Matrix[]>[] { [], [] };
long bytes = 0;
foreach (var phase in phaseShapes)
{
    var w = new Float32Matrix[phase.Length];
    var h0 = new Float32Matrix[phase.Length];
    var h1 = new Float32Matrix[phase.Length];
    for (int m = 0; m < phase.Length; m++)
    {
        var (rows, cols) = phase[m];
        var weights = Values(rows * cols);
        int top = rows / 2;
        w[m] = new Float32Matrix(rows, cols, weights, null);
        h0[m] = new Float32Matrix(top, cols, weights[..(top * cols)], null);
        h1[m] = new Float32Matrix(rows - top, cols, weights[(top * cols)..], null);
        bytes += w[m].Bytes;
    }
    whole.Add(w); halves[0].Add(h0); halves[1].Add(h1);
}
var x = Values(Hidden);
var ys = new[] { new float[Vocab], new float[Vocab] };
using var single0 = new WorkerPool(1);
using var single1 = new WorkerPool(1);
var pools = new[] { single0, single1 };

// A sense-reversing spin barrier for two threads.
int arrived = 0, released = 0;
void Barrier(ref int sense)
{
    sense ^= 1;
    if (Interlocked.Increment(ref arrived) == 2) { arrived = 0; Volatile.Write(ref released, sense); }
    else while (Volatile.Read(ref released) != sense) Thread.SpinWait(1);
}

void Products(List<Float32Matrix[]> phases, int p, bool sync, ref int sense, bool skipWork = false)
{
    foreach (var phase in phases)
    {
        if (!skipWork)
            foreach (var m in phase) m.Multiply(x.AsMemory(0, m.Cols), ys[p].AsMemory(0, m.Rows), 1, pools[p]);
        if (sync) Barrier(ref sense);
    }
}

// The second thread runs the mode it is handed, Steps times, in step with the first.
int mode = 0, started = 0, done = 0, workerSense = 0;
var worker = new Thread(() =>
{
    int seen = 0;
    while (true)
    {
        while (Volatile.Read(ref started) == seen) Thread.SpinWait(1);
        seen = Volatile.Read(ref started);
        if (mode < 0) return;
        for (int s = 0; s < Steps; s++) Products(halves[1], 1, sync: mode != 2, ref workerSense, skipWork: mode == 3);
        Volatile.Write(ref done, seen);
    }
}) { IsBackground = true };
worker.Start();

int mainSense = 0;
double Time(int m)
{
    long start = Stopwatch.GetTimestamp();
    if (m == 0)
        for (int s = 0; s < Steps; s++) Products(whole, 0, sync: false, ref mainSense);
    else
    {
        mode = m;
        int ticket = Interlocked.Increment(ref started);
        for (int s = 0; s < Steps; s++) Products(halves[0], 0, sync: m != 2, ref mainSense, skipWork: m == 3);
        while (Volatile.Read(ref done) != ticket) Thread.SpinWait(1);
    }
    return Stopwatch.GetElapsedTime(start).TotalMicroseconds / Steps;
}

string[] names = ["1 thread", "2 threads + barrier", "2 threads, no sync", "barriers alone"];
var times = names.Select(_ => new List<double>()).ToArray();
for (int m = 0; m < names.Length; m++) Time(m); // warm-up
for (int round = 0; round < Rounds; round++)
    for (int i = 0; i < names.Length; i++)
    {
        int m = (i + round) % names.Length;
        times[m].Add(Time(m));
    }
mode = -1; Interlocked.Increment(ref started);

Console.WriteLine($"# cpu: {SimdInfo.Describe()}");
Console.WriteLine($"# RWKV-4 dim {Dim}, MLP {Hidden}, vocab {Vocab}, {Layers} layers: {phaseShapes.Count} phases, {bytes / 1e6:F3} MB of float32 weights per step; {Rounds} interleaved rounds of {Steps} steps, µs per step");
Console.WriteLine($"{"mode",-22} {"median",8} {"p10",8} {"p90",8} {"GB/s",7}");
double Pct(List<double> v, double q) { var s = v.Order().ToList(); return s[(int)Math.Round(q * (s.Count - 1))]; }
for (int m = 0; m < names.Length; m++)
{
    double median = Pct(times[m], 0.5);
    string rate = m == 3 ? "" : $"{bytes / median / 1e3,7:F1}";
    Console.WriteLine($"{names[m],-22} {median,8:F1} {Pct(times[m], 0.1),8:F1} {Pct(times[m], 0.9),8:F1} {rate}");
}
Console.WriteLine($"2 threads + barrier: {Pct(times[0], 0.5) / Pct(times[1], 0.5):F2}× the 1-thread products; one barrier {Pct(times[3], 0.5) / phaseShapes.Count * 1000:F0} ns");
return 0;
