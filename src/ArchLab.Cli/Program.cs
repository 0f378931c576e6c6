using System.CommandLine;
using ArchLab.Cli;
using ArchLab.Cli.Commands;

// archlab: thin command-line front end; every command parses its arguments and calls the library.
var root = new RootCommand("ArchLab: train, evaluate and compare Transformer, RWKV, RetNet and Mamba language models")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
    GenerateCommand.Create(),
    LogitsCommand.Create(),
    BenchCommand.Create(),
    KernelsCommand.Create(),
    SweepCommand.Create(),
    FitCommand.Create(),
    NotebookCommand.Create(),
    RecallCommand.Create(),
};
return CliErrors.Run(root, args);
