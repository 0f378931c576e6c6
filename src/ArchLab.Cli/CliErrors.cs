using System.CommandLine;

namespace ArchLab.Cli;

/// <summary>Bad arguments and bad input end with one line on stderr and a non-zero exit, never a stack trace.</summary>
public static class CliErrors
{
    public const int BadArguments = 2, Failed = 1;

    public static int Run(RootCommand root, string[] args)
    {
        if (args.Length == 0) args = ["--help"];
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"archlab: {string.Join(" ", parsed.Errors.Select(e => e.Message).Distinct())} (see --help)");
            return BadArguments;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("ARCHLAB_DEBUG") is null)
        {
            var inner = e is AggregateException { InnerException: { } i } ? i : e;
            Console.Error.WriteLine($"archlab: error: {inner.Message}");
            return inner is ArgumentException ? BadArguments : Failed;
        }
    }
}
