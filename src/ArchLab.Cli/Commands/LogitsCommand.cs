using System.CommandLine;
using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab logits</c>: logits of a model (ArchLab or official layout) for given ids, in any decode mode, to check ports.</summary>
public static class LogitsCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "folder with model.safetensors + config.json", Required = true };
        var input = new Option<string>("--input") { Description = "safetensors file with input_ids I64 [B,T]", Required = true };
        var mode = new Option<string>("--mode") { Description = "parallel | recurrent | prefill_step | chunked", DefaultValueFactory = _ => "parallel" };
        var output = new Option<string>("--out") { Description = "safetensors file to write with 'logits' [B,T,V]", Required = true };
        var format = new Option<string>("--format") { Description = string.Join(" | ", ModelLoader.Formats), DefaultValueFactory = _ => "auto" };
        var prefill = new Option<int>("--prefill") { DefaultValueFactory = _ => 16 };
        var chunk = new Option<int>("--chunk") { DefaultValueFactory = _ => 8 };
        var dtype = new Option<string>("--dtype") { Description = "float32 | float64", DefaultValueFactory = _ => "float32" };
        var command = new Command("logits", "compute logits for input ids (port checking)") { model, input, mode, output, format, prefill, chunk, dtype };
        command.SetAction(p =>
        {
            var decodeMode = DecodeModes.Parse(p.GetValue(mode)!);
            var type = TorchRuntime.ParseDtype(p.GetValue(dtype)!);
            if (type is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException("--dtype must be float32 or float64");
            using var lm = ModelLoader.Load(p.GetValue(model)!, p.GetValue(format)!);
            lm.to(type);
            using var io = Safetensors.Read(p.GetValue(input)!);
            if (!io.Contains("input_ids")) throw new ArgumentException($"{p.GetValue(input)}: no tensor 'input_ids'");
            var ids = io["input_ids"];
            if (ids.dtype != ScalarType.Int64 || ids.dim() != 2)
                throw new ArgumentException($"{p.GetValue(input)}: 'input_ids' must be I64 [B,T]");
            if (ids.numel() == 0)
                throw new ArgumentException($"{p.GetValue(input)}: 'input_ids' has shape [{string.Join(", ", ids.shape)}]: give at least one sequence of at least one token");
            if (ids.numel() > 0 && (ids.min().item<long>() < 0 || ids.max().item<long>() >= lm.Config.VocabSize))
                throw new ArgumentException($"{p.GetValue(input)}: token ids must be in [0, {lm.Config.VocabSize})");
            using var logits = LogitsRunner.Run(lm, ids, decodeMode, p.GetValue(prefill), p.GetValue(chunk));
            Safetensors.Write(p.GetValue(output)!, new Dictionary<string, Tensor> { ["logits"] = logits });
            Console.WriteLine($"logits [{string.Join(", ", logits.shape)}] ({decodeMode}, {type}) → {p.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
