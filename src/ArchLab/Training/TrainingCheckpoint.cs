using ArchLab.IO;
using System.Security.Cryptography;
using System.Text.Json;
using ArchLab.Checkpoints;
using ArchLab.Models;
using TorchSharp.Modules;

namespace ArchLab.Training;

/// <summary>
/// A resumable checkpoint: <c>checkpoints/step_NNNNNN/</c> with the model (config.json + model.safetensors), the optimizer
/// moments (optimizer.bin), the trainer state and train config, and a manifest of SHA-256 digests. A checkpoint is
/// written into a temporary folder and renamed into place only when complete, and <c>latest</c> is switched after that,
/// so a crash at any moment leaves the previous good checkpoint untouched.
/// </summary>
public static class TrainingCheckpoint
{
    const string OptimizerFile = "optimizer.bin", StateFile = "trainer_state.json", TrainConfigFile = "train_config.json",
                 ManifestFile = "manifest.json", LatestFile = "latest";

    public static string Save(string runDir, LanguageModel model, OptimizerHelper optimizer, TrainConfig train, TrainerState state)
    {
        string root = Path.Combine(runDir, "checkpoints");
        Directory.CreateDirectory(root);
        string name = $"step_{state.Step:D6}";
        string final = Path.Combine(root, name);
        string partial = Path.Combine(root, $".{name}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(partial);
        try
        {
            ModelCheckpoint.Save(partial, model);
            AtomicFile.Write(Path.Combine(partial, OptimizerFile), s =>
            {
                using var writer = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(writer);
            });
            AtomicFile.WriteAllText(Path.Combine(partial, StateFile), JsonSerializer.Serialize(state, ModelConfig.Json));
            AtomicFile.WriteAllText(Path.Combine(partial, TrainConfigFile), train.ToJson());
            var manifest = new[] { ModelCheckpoint.WeightsFile, ModelCheckpoint.ConfigFile, OptimizerFile, StateFile, TrainConfigFile }
                .ToDictionary(f => f, f => Sha256(Path.Combine(partial, f)));
            AtomicFile.WriteAllText(Path.Combine(partial, ManifestFile), JsonSerializer.Serialize(manifest, ModelConfig.Json));

            if (Directory.Exists(final)) // re-saving the same step: move the old one aside first
            {
                string old = final + $".old-{Guid.NewGuid():N}";
                Directory.Move(final, old);
                Directory.Move(partial, final);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(partial, final);
        }
        finally
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        }
        AtomicFile.WriteAllText(Path.Combine(root, LatestFile), name + "\n");
        Prune(root, keep: train.KeepCheckpoints, protect: name);
        return final;
    }

    /// <summary>The newest complete checkpoint of a run, or null when it has none.</summary>
    public static string? Latest(string runDir)
    {
        string root = Path.Combine(runDir, "checkpoints");
        string latest = Path.Combine(root, LatestFile);
        if (!File.Exists(latest)) return null;
        string dir = Path.Combine(root, File.ReadAllText(latest).Trim());
        if (!Directory.Exists(dir)) throw new CheckpointException($"{latest} names '{dir}', which does not exist");
        return dir;
    }

    /// <summary>Removes what an interrupted <see cref="Save"/> leaves behind (<c>.step_N.partial-*</c> folders being written,
    /// <c>step_N.old-*</c> folders being replaced); call it only while no other process trains in this run folder.</summary>
    /// <returns>The folders removed.</returns>
    public static IReadOnlyList<string> RemoveStalePartials(string runDir)
    {
        string root = Path.Combine(runDir, "checkpoints");
        if (!Directory.Exists(root)) return [];
        var stale = Directory.GetDirectories(root, ".step_*.partial-*").Concat(Directory.GetDirectories(root, "step_*.old-*")).Order().ToList();
        foreach (var dir in stale) Directory.Delete(dir, recursive: true);
        return stale;
    }

    /// <summary>Verifies the manifest digests and loads everything; any damage is a <see cref="CheckpointException"/> naming the file.</summary>
    public static (LanguageModel Model, TrainConfig Train, TrainerState State) Load(string dir)
    {
        Verify(dir);
        var model = ModelCheckpoint.Load(dir);
        var train = TrainConfig.FromJson(File.ReadAllText(Path.Combine(dir, TrainConfigFile)), Path.Combine(dir, TrainConfigFile));
        var state = ReadState(Path.Combine(dir, StateFile));
        return (model, train, state);
    }

    static TrainerState ReadState(string path)
    {
        TrainerState? state;
        try { state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), ModelConfig.Json); }
        catch (JsonException e) { throw new CheckpointException($"{path}: invalid trainer state: {JsonErrors.Describe(e)}"); }
        if (state is null) throw new CheckpointException($"{path}: empty trainer state");
        if (state.Step < 0 || state.TokensSeen < 0 || !(state.ElapsedSeconds >= 0) || state.LastValLoss is double v && double.IsNaN(v))
            throw new CheckpointException($"{path}: invalid trainer state (step {state.Step}, tokens seen {state.TokensSeen}, elapsed {state.ElapsedSeconds} s)");
        return state;
    }

    public static void LoadOptimizer(string dir, OptimizerHelper optimizer)
    {
        string path = Path.Combine(dir, OptimizerFile);
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            optimizer.load_state_dict(reader);
        }
        // TorchSharp reports a damaged stream in many ways (found by fuzzing: InvalidDataException for a corrupted type name);
        // an OutOfMemoryException here comes from a corrupted length, not from the machine.
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or InvalidOperationException
                                      or InvalidDataException or FormatException or OverflowException or OutOfMemoryException)
        {
            throw new CheckpointException($"{path}: cannot restore the optimizer state: {e.Message}");
        }
    }

    static void Verify(string dir)
    {
        string manifestPath = Path.Combine(dir, ManifestFile);
        if (!File.Exists(manifestPath)) throw new CheckpointException($"{dir}: incomplete checkpoint (no {ManifestFile})");
        Dictionary<string, string> manifest;
        try { manifest = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(manifestPath)) ?? []; }
        catch (JsonException e) { throw new CheckpointException($"{manifestPath}: corrupted ({IO.JsonErrors.Describe(e)})"); }
        foreach (var (file, digest) in manifest)
        {
            string path = Path.Combine(dir, file);
            if (!File.Exists(path)) throw new CheckpointException($"{dir}: checkpoint file '{file}' is missing");
            if (Sha256(path) != digest) throw new CheckpointException($"{path}: corrupted or truncated (SHA-256 does not match the manifest)");
        }
    }

    static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static void Prune(string root, int keep, string protect)
    {
        var steps = Directory.GetDirectories(root, "step_*").Select(Path.GetFileName).Where(n => n!.Length == 11).Order().ToList();
        foreach (var name in steps.Take(Math.Max(0, steps.Count - keep)))
            if (name != protect) Directory.Delete(Path.Combine(root, name!), recursive: true);
    }
}
