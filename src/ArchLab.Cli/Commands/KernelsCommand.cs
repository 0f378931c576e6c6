using System.CommandLine;
using ArchLab.IO;
using ArchLab.Kernels.Gpu;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab kernels</c>: tools for the ILGPU GPU kernels (PTX output, which accelerator runs them).</summary>
public static class KernelsCommand
{
    public static Command Create() => new("kernels", "ILGPU GPU kernels: compile to PTX, show the accelerator") { Ptx(), Device() };

    static Command Ptx()
    {
        var arch = new Option<string>("--arch") { Description = string.Join(" | ", PtxCompiler.Architectures), DefaultValueFactory = _ => "sm_80" };
        var output = new Option<string>("--out") { Description = "folder to write one .ptx file per kernel and element type", Required = true };
        var command = new Command("ptx", "compile every GPU kernel to PTX (no GPU needed)") { arch, output };
        command.SetAction(p =>
        {
            string target = p.GetValue(arch)!.Trim().ToLowerInvariant();
            string dir = p.GetValue(output)!;
            var kernels = PtxCompiler.CompileAll(target);
            foreach (var kernel in kernels)
            {
                string path = Path.Combine(dir, kernel.FileName(target));
                AtomicFile.WriteAllText(path, kernel.Ptx);
                Console.WriteLine($"{kernel.FileName(target),-40} {kernel.Ptx.Length,8} bytes  .entry {kernel.EntryName}");
            }
            Console.WriteLine($"{kernels.Count} kernels for {target} ({PtxCompiler.VersionLine(target)}, {PtxCompiler.TargetLine(target)}) → {dir}");
            return 0;
        });
        return command;
    }

    static Command Device()
    {
        var command = new Command("device", "print the ILGPU accelerator the GPU kernels would run on (CUDA if found, else CPU)");
        command.SetAction(_ =>
        {
            Console.WriteLine(IlgpuScans.Shared);
            return 0;
        });
        return command;
    }
}
