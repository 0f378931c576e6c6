using System.Text;
using System.Text.Json.Nodes;

namespace ArchLab.Notebooks;

/// <summary>
/// Gathers one cell's outputs in order: console text (stdout/stderr, merged into stream outputs) interleaved with
/// displayed values. Thread-safe, since library code may write from other threads.
/// </summary>
public sealed class CellOutputCollector
{
    readonly List<JsonObject> outputs = new();
    readonly StringBuilder pending = new();
    readonly object gate = new();
    readonly TextWriter? echo;
    string pendingStream = "stdout";

    public CellOutputCollector(TextWriter? echo = null)
    {
        this.echo = echo;
        Stdout = new StreamWriter(this, "stdout");
        Stderr = new StreamWriter(this, "stderr");
    }

    public TextWriter Stdout { get; }
    public TextWriter Stderr { get; }

    public void Write(string stream, string text)
    {
        lock (gate)
        {
            if (pending.Length > 0 && stream != pendingStream) Flush();
            pendingStream = stream;
            pending.Append(text.Replace("\r\n", "\n"));
            echo?.Write(text);
        }
    }

    public void Add(JsonObject output)
    {
        lock (gate) { Flush(); outputs.Add(output); }
    }

    /// <summary>The outputs so far (console text included).</summary>
    public IReadOnlyList<JsonObject> Outputs
    {
        get { lock (gate) { Flush(); return outputs.ToList(); } }
    }

    void Flush()
    {
        if (pending.Length == 0) return;
        outputs.Add(CellOutputs.Stream(pendingStream, CollapseCarriageReturns(pending.ToString())));
        pending.Clear();
    }

    /// <summary>Progress lines redrawn with '\r' keep only their last state, as a terminal shows them.</summary>
    static string CollapseCarriageReturns(string text) =>
        string.Join("\n", text.Split('\n').Select(line => line.Contains('\r') ? line[(line.TrimEnd('\r').LastIndexOf('\r') + 1)..].TrimEnd('\r') : line));

    sealed class StreamWriter(CellOutputCollector owner, string stream) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) => owner.Write(stream, value.ToString());
        public override void Write(string? value) { if (!string.IsNullOrEmpty(value)) owner.Write(stream, value); }
        public override void Write(char[] buffer, int index, int count) => owner.Write(stream, new string(buffer, index, count));
    }
}
