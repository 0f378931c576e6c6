namespace ArchLab.Notebooks;

/// <summary>How <see cref="NotebookRunner"/> runs a notebook.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>Sets the cells' global <c>Quick</c> (tiny settings for CI); defaults to <c>ARCHLAB_QUICK</c>.</summary>
    public bool Quick { get; init; } = NotebookRuntime.QuickFromEnvironment();
    /// <summary>Tripped (by Ctrl+C in <c>archlab notebook run</c>) to stop long library calls at their next step.</summary>
    public CancellationToken Interrupt { get; init; }
    /// <summary>Longest a single cell may run; null for no limit.</summary>
    public TimeSpan? CellTimeout { get; init; }
    /// <summary>Folder for the executed notebook; null writes the outputs back into the notebook itself.</summary>
    public string? OutDir { get; init; }
    /// <summary>Receives one line per cell (index, time, first line); null for silence.</summary>
    public TextWriter? Log { get; init; }
    /// <summary>Also copies the cells' console output here as it is written (e.g. the real stdout).</summary>
    public TextWriter? Echo { get; init; }
}

/// <summary>The cell that stopped a run.</summary>
public sealed record CellFailure(int Index, string FirstLine, string Error);

/// <summary>One executed cell: its index in the notebook and how long it ran.</summary>
public sealed record CellTiming(int Index, string FirstLine, TimeSpan Elapsed);

/// <summary>What a run did: where the executed notebook was written, each cell's time, and the failing cell if any.</summary>
public sealed record NotebookRunResult(string NotebookPath, string OutputPath, IReadOnlyList<CellTiming> Cells, CellFailure? Failure, TimeSpan Elapsed)
{
    public bool Succeeded => Failure is null;
}

/// <summary>A cell ran past <see cref="NotebookRunOptions.CellTimeout"/>.</summary>
public sealed class CellTimeoutException(TimeSpan limit) : Exception($"the cell ran past its time limit of {limit.TotalSeconds:0.#} s");
