"""One code generator: safe by construction, readable, and what the fast path runs."""

import ast
import json

import pytest

from graphcore.codegen import Namespace, class_name_from, exec_source, python_source, template_fields
from graphcore.files.fileformat import loads
from graphcore.program import lower
from graphcore.registry import REGISTRY, load_library
from graphcore.runtime import Runtime

load_library()

HOSTILE = [
    "__import__('os').system('touch pwned')",
    'a"; import os; "',
    "line\nbreak",
    "ünïcødé λ",
    "class",
    "self",
    "torch",
    "1st",
    "",
    "x",
]


def hostile_graph():
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [], "value": 0.5}, "label": HOSTILE[0]}]
    edges = []
    for i, label in enumerate(HOSTILE[1:]):
        nodes.append({"id": f"n{i}", "type": "sigmoid", "label": label})
        edges.append({"from": f"{nodes[-2]['id']}.out", "to": f"n{i}.x"})
    nodes.append(
        {
            "id": "w",
            "type": "Parameter",
            "params": {"shape": [], "init": "value", "value": 2.0},
            "label": "forward",
        }
    )
    nodes.append({"id": "out", "type": "mul", "label": "x"})
    edges += [{"from": f"{nodes[-3]['id']}.out", "to": "out.a"}, {"from": "w.out", "to": "out.b"}]
    return loads(
        json.dumps({"format": "backprop-studio-graph", "version": 1, "nodes": nodes, "edges": edges})
    )


def test_hostile_labels_cannot_inject_code(tmp_path, monkeypatch):
    program = lower(hostile_graph())
    source = python_source(program, class_name_from("Evil'); import os")).source
    tree = ast.parse(source)
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert calls <= {
        "torch.tensor",
        "torch.sigmoid",
        "torch.manual_seed",
        "nn.Parameter",
        "super",
        "super().__init__",
    }
    imports = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imports <= {"torch", "nn", "torch.nn.functional"}
    monkeypatch.chdir(tmp_path)
    runtime = Runtime(program)
    value = runtime.forward()["out.out"]
    assert list(tmp_path.iterdir()) == []
    expected = 0.5
    for _ in HOSTILE[1:]:
        expected = 1 / (1 + 2.718281828459045**-expected)
    assert value.item() == pytest.approx(expected * 2.0, abs=1e-12)


def test_names_are_sanitised_unique_and_never_reserved():
    ns = Namespace()
    names = [
        ns.name(str(i), hint) for i, hint in enumerate(["x", "x", "class", "torch", "1st", "", "l", "a b"])
    ]
    assert names == ["x", "x_2", "v_class", "v_torch", "v_1st", "v", "v_l", "a_b"]
    assert all(n.isidentifier() for n in names)
    assert class_name_from("sigmoid neuron l2") == "SigmoidNeuronL2"
    assert class_name_from("") == "Model"


def test_generated_module_reads_like_hand_written_pytorch():
    graph = loads(
        json.dumps(
            {
                "format": "backprop-studio-graph",
                "version": 1,
                "nodes": [
                    {"id": "x", "type": "Input", "params": {"shape": ["N", 3]}},
                    {"id": "fc1", "type": "Linear", "params": {"in_features": 3, "out_features": 4}},
                    {"id": "h", "type": "relu"},
                    {"id": "target", "type": "Input", "params": {"shape": ["N", 4]}},
                    {"id": "loss", "type": "MSELoss"},
                ],
                "edges": [
                    {"from": "x.out", "to": "fc1.x"},
                    {"from": "fc1.out", "to": "h.x"},
                    {"from": "h.out", "to": "loss.input"},
                    {"from": "target.out", "to": "loss.target"},
                ],
            }
        )
    )
    source = python_source(lower(graph), "Mlp").source
    assert "        self.fc1 = nn.Linear(3, 4, bias=True, dtype=dtype)\n" in source
    assert "    def forward(self, x, target):\n" in source
    assert "        fc1 = self.fc1(x)" in source
    assert "        loss = F.mse_loss(h, target, reduction='mean')" in source
    assert "        return loss\n" in source
    compile(source, "mlp.py", "exec")


def test_exec_source_registers_lines_for_tracebacks():
    import linecache

    scope = exec_source("def f():\n    return 1 / 0\n", "Boom")
    with pytest.raises(ZeroDivisionError) as caught:
        scope["f"]()
    frame = caught.traceback[-1]
    assert linecache.getline(str(frame.path), frame.lineno + 1).strip() == "return 1 / 0"


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_templates_write_params_only_with_repr(type_):
    spec = REGISTRY[type_]
    template = spec.template(spec.defaults())
    params = {p.name for p in spec.params}
    for name, conversion in template_fields(template):
        if name in params:
            assert conversion == "r", f"{type_}: param field {{{name}}} must use !r"
        else:
            assert name in (*spec.inputs, *spec.outputs, "module"), f"{type_}: unknown field {{{name}}}"
