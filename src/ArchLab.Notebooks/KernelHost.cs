using System.Reflection;
using System.Text.Json.Nodes;

namespace ArchLab.Notebooks;

/// <summary>
/// The host inside the .NET Interactive kernel (<c>.net-csharp</c>, under Jupyter or VS Code). Reached by reflection, so
/// ArchLab references none of the kernel's assemblies and works with whichever version the user installed:
/// <c>display</c> publishes a <c>DisplayedValueProduced</c> event carrying every MIME type of the bundle (Jupyter gets
/// one display_data with all of them), and <see cref="Interrupt"/> is the running submission's cancellation token, which
/// the kernel trips on Jupyter's interrupt.
/// </summary>
internal sealed class KernelHost(DisplayFormatter formatter, bool quick, string notebookDir, string scratchDir) : INotebookHost
{
    const string InteractiveAssembly = "Microsoft.DotNet.Interactive";

    public bool Quick => quick;
    public string NotebookDir => notebookDir;
    public string OutputDir => notebookDir;
    public string ScratchDir => scratchDir;
    public CancellationToken Interrupt => CurrentContext() is { } context
        ? (CancellationToken)context.GetType().GetProperty("CancellationToken")!.GetValue(context)!
        : CancellationToken.None;

    /// <summary>True when this process is a .NET Interactive kernel.</summary>
    public static bool IsKernelProcess() =>
        AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == InteractiveAssembly);

    public void Display(object? value)
    {
        var bundle = formatter.Format(value);
        object context = CurrentContext() ?? throw new InvalidOperationException("display() was called outside a running cell");
        Assembly interactive = context.GetType().Assembly;
        Type eventType = interactive.GetType("Microsoft.DotNet.Interactive.Events.DisplayedValueProduced", throwOnError: true)!;
        ConstructorInfo create = eventType.GetConstructors().Single(c => c.GetParameters().Length == 4);
        Type formattedValueType = create.GetParameters()[2].ParameterType.GetGenericArguments()[0];
        ConstructorInfo formattedValue = formattedValueType.GetConstructor([typeof(string), typeof(string)])
            ?? throw new MissingMethodException(formattedValueType.FullName, ".ctor(string mimeType, string value)");
        // Text-valued MIME types only: the kernel sends every value as a string, and a JSON type (the plotly figure) as a
        // string draws nothing in a frontend; the text/html output draws the same figure.
        var texts = bundle.Entries.Where(e => e.Value is JsonValue v && v.TryGetValue<string>(out _)).ToList();
        var values = Array.CreateInstance(formattedValueType, texts.Count);
        for (int i = 0; i < texts.Count; i++)
            values.SetValue(formattedValue.Invoke([texts[i].Mime, texts[i].Value.GetValue<string>()]), i);
        object? command = context.GetType().GetProperty("Command")!.GetValue(context);
        object displayed = create.Invoke([bundle.PlainText, command, values, null]);
        context.GetType().GetMethod("Publish", [FindKernelEvent(eventType)])!.Invoke(context, [displayed]);
    }

    static Type FindKernelEvent(Type eventType)
    {
        for (Type? t = eventType; t is not null; t = t.BaseType)
            if (t.Name == "KernelEvent") return t;
        throw new MissingMemberException("Microsoft.DotNet.Interactive.Events.KernelEvent");
    }

    static object? CurrentContext()
    {
        Type? type = Type.GetType($"Microsoft.DotNet.Interactive.KernelInvocationContext, {InteractiveAssembly}");
        return type?.GetProperty("Current", BindingFlags.Public | BindingFlags.Static)?.GetValue(null);
    }
}
