using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>
/// torchscale's gated linear unit (component/gate_linear_unit.py GLU): fc2(act(fc1·x) ⊙ gate·x), no biases.
/// The activation runs in at least float32, as the official code upcasts it. With swish this is SwiGLU.
/// </summary>
public sealed class GluMlp : nn.Module<Tensor, Tensor>, Engine.ILeanConvertible
{
    public static readonly string[] Activations = ["swish", "gelu", "relu"];

    public readonly Projection fc1, gate, fc2;
    readonly string activation;

    public GluMlp(int dim, int hidden, string activation, double outputInitStd) : base(nameof(GluMlp))
    {
        if (!Activations.Contains(activation))
            throw new ConfigException($"unknown glu activation '{activation}' (known: {string.Join(", ", Activations)})");
        this.activation = activation;
        fc1 = new Projection(dim, hidden);
        gate = new Projection(dim, hidden);
        fc2 = new Projection(hidden, dim, initStd: outputInitStd);
        RegisterComponents();
    }

    public Engine.ILeanLayer ToLean(Engine.LeanBuilder b) => new Engine.Layers.LeanGatedMlp(b.Matrix(fc1), b.Matrix(gate), b.Matrix(fc2), activation);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = fc1.call(x);
        var hf = h.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? h.to(ScalarType.Float32) : h;
        var a = activation switch
        {
            "swish" => nn.functional.silu(hf),
            "gelu" => nn.functional.gelu(hf),
            _ => nn.functional.relu(hf),
        };
        return fc2.call(a.to(h.dtype) * gate.call(x)).MoveToOuterDisposeScope();
    }
}
