using System.Globalization;
using System.Text;
using ArchLab.IO;
using ArchLab.Reporting;

namespace ArchLab.Recall;

/// <summary>Writes a recall study: recall.csv, accuracy charts against width and against state bytes, and README.md with the table.</summary>
public static class RecallReport
{
    public static string[] Columns =>
    [
        "task", "arch", "width", "layers", "seq_len", "kv_pairs", "vocab", "parameters", "state_bytes", "train_examples",
        "validation_examples", "validation_dropped", "steps_run", "accuracy", "correct", "scored", "validation_loss", "final_train_loss", "seconds",
    ];

    public static void WriteCsv(IReadOnlyList<RecallRow> rows, string path, string command)
    {
        var table = new CsvTable(Columns).Comment($"command: {command}");
        foreach (var r in rows)
            table.Add(r.Task, r.Arch, r.Width, r.Layers, r.SeqLen, r.KvPairs, r.VocabSize, r.Parameters, r.StateBytes, r.TrainExamples,
                r.ValidationExamples, r.DroppedFromValidation, r.Result.StepsRun, r.Result.Accuracy, r.Result.Correct, r.Result.Scored,
                r.Result.Loss, r.Result.FinalTrainLoss, Math.Round(r.Result.Seconds, 1));
        table.Save(path);
    }

    /// <summary>One line per architecture (and per length/pairs cell when the grid has several).</summary>
    public static List<Series> SeriesOf(IReadOnlyList<RecallRow> rows, Func<RecallRow, double> x)
    {
        bool severalCells = rows.Select(r => (r.SeqLen, r.KvPairs)).Distinct().Count() > 1;
        return rows.GroupBy(r => severalCells ? $"{r.Arch} (T={r.SeqLen}, kv={r.KvPairs})" : r.Arch)
            .Select(g =>
            {
                var points = g.OrderBy(x).ToList();
                return new Series(g.Key, points.Select(x).ToList(), points.Select(r => r.Result.Accuracy * 100).ToList());
            }).ToList();
    }

    public static void WriteCharts(IReadOnlyList<RecallRow> rows, string folder)
    {
        string task = rows[0].Task;
        ChartFile.Save(LineChart.Create($"{task}: accuracy at query positions vs model width", "model width (log)", "accuracy (%)",
            SeriesOf(rows, r => r.Width), logX: true), Path.Combine(folder, "accuracy_vs_width.html"), png: false);
        ChartFile.Save(LineChart.Create($"{task}: accuracy at query positions vs state bytes at the sequence length", "state bytes (float32, batch 1, log)",
            "accuracy (%)", SeriesOf(rows, r => r.StateBytes), logX: true), Path.Combine(folder, "accuracy_vs_state_bytes.html"), png: false);
    }

    public static string MarkdownTable(IReadOnlyList<RecallRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| arch | width | seq len | kv pairs | parameters | state bytes | steps | accuracy | val loss | seconds |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Arch} | {r.Width} | {r.SeqLen} | {r.KvPairs} | {r.Parameters:N0} | {r.StateBytes:N0} | {r.Result.StepsRun} | " +
                $"{r.Result.Accuracy * 100:F2}% | {r.Result.Loss:F3} | {r.Result.Seconds:F0} |"));
        return text.ToString();
    }

    /// <summary>README.md: the command, the set-up, the table; <paramref name="notes"/> (may be empty) after it.</summary>
    public static void WriteReadme(IReadOnlyList<RecallRow> rows, RecallStudyOptions o, string path, string command, string notes)
    {
        var t = o.Train;
        var text = new StringBuilder();
        text.AppendLine($"# Synthetic recall: {o.Task}").AppendLine();
        text.AppendLine("Made by").AppendLine().AppendLine("```").AppendLine(command).AppendLine("```").AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Set-up: vocabulary {o.VocabSize}, {o.Layers} layers, head dim {o.HeadDim}, hybrid = {o.HybridMixer} on even layers and attention on odd ones; head {(o.TiedEmbeddings ? "tied to the embedding" : "untied")}; MLP {o.Mlp ?? "each architecture's own"}; random ids between queries {(o.RandomFill ? "on" : "off")}; learned position embeddings {(o.PositionEmbedding ? "on" : "off")}; rotary positions in attention {(o.NoRope ? "off" : "on")}; {(o.CurriculumSteps > 0 ? $"curriculum: {o.CurriculumSteps} steps at length {o.CurriculumSeqLen} with {o.CurriculumKvPairs} pairs before each run (not counted in steps and seconds)" : "no curriculum")}; " +
            $"{rows.FirstOrDefault()?.TrainExamples ?? o.TrainExamples} training and {o.ValidationExamples} held-out validation examples (disjoint seed streams; " +
            $"{rows.FirstOrDefault()?.DroppedFromValidation ?? 0} validation draws equal to a training example were dropped), power_a {o.PowerA}; " +
            $"AdamW lr {t.LearningRate}, weight decay {t.WeightDecay}, batch {t.BatchSize}, {t.Steps} steps at most (warmup {t.WarmupSteps}, cosine to " +
            $"{t.MinLrRatio}×), stopping early when the training query accuracy of the last {t.StopWindow} batches reaches {t.StopAtTrainAccuracy}; model seed {t.Seed}, data seed {o.DataSeed}."));
        text.AppendLine().AppendLine("Accuracy is over every query position of the held-out set. State bytes: the model's state after the whole " +
                                     "sequence at batch 1 in float32 (KV cache for attention layers, recurrent state otherwise).").AppendLine();
        text.Append(MarkdownTable(rows));
        text.AppendLine().AppendLine("Charts: [accuracy vs width](accuracy_vs_width.html), [accuracy vs state bytes](accuracy_vs_state_bytes.html); data: [recall.csv](recall.csv).");
        if (!string.IsNullOrWhiteSpace(notes)) text.AppendLine().AppendLine(notes.Trim());
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
