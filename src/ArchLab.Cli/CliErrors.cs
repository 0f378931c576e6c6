using System.CommandLine;
using System.Text.RegularExpressions;

namespace ArchLab.Cli;

/// <summary>Bad arguments and bad input end with one line on stderr and a non-zero exit, never a stack trace.</summary>
public static partial class CliErrors
{
    public const int BadArguments = 2, Failed = 1;

    public static int Run(RootCommand root, string[] args)
    {
        if (args.Length == 0) args = ["--help"];
        RejectUnknownOptionsAsValues(root);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"archlab: {OneLine(string.Join(" ", parsed.Errors.Select(e => e.Message).Distinct()))} (see --help)");
            return BadArguments;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("ARCHLAB_DEBUG") is null)
        {
            var inner = e is AggregateException { InnerException: { } i } ? i : e;
            Console.Error.WriteLine($"archlab: error: {OneLine(inner.Message)}");
            return inner is ArgumentException ? BadArguments : Failed;
        }
    }

    /// <summary>Some messages (ArgumentOutOfRangeException's "Actual value was …") span lines; the error stays one line.</summary>
    static string OneLine(string message) =>
        string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    [GeneratedRegex("^--[A-Za-z][A-Za-z0-9-]*$")]
    private static partial Regex OptionName();

    /// <summary>An option a command does not have would otherwise be taken as a value of the option before it
    /// (<c>eval --model runs/x --threads 1</c> gave "--model takes one folder"): name it as unknown instead.</summary>
    static void RejectUnknownOptionsAsValues(Command command)
    {
        foreach (var option in command.Options)
            option.Validators.Add(result =>
            {
                foreach (var token in result.Tokens)
                    if (OptionName().IsMatch(token.Value))
                        result.AddError($"unknown option '{token.Value}' for '{command.Name}' (after {result.Option.Name})");
            });
        foreach (var sub in command.Subcommands) RejectUnknownOptionsAsValues(sub);
    }
}
