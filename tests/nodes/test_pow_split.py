"""pow as torch has it (a ** b, b any tensor) and split/chunk with as many outputs as their params say:
old files, bad params, torch import, export. The registry-driven contract tests check their derivatives."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from graphcore.exchange.export import export_python
from graphcore.exchange.importer import import_module, load_class
from graphcore.files.fileformat import FileFormatError, dumps, graph_to_dict, loads
from graphcore.graph import PortRef
from graphcore.program import lower
from graphcore.registry import MAX_OUTPUTS, REGISTRY
from graphcore.runtime import Runtime
from graphcore.validate import validate

sys.path.insert(0, str(Path(__file__).parents[1] / "export"))
from export_cases import same_structure  # noqa: E402


def graph_file(nodes: list, edges: list, version: int = 2) -> str:
    return json.dumps({"format": "backprop-studio-graph", "version": version, "nodes": nodes, "edges": edges})


def edge(src: str, dst: str) -> dict[str, str]:
    return {"from": src, "to": dst}


BASE = [-1.5, 0.5, 2.0]

# A version-1 file as the app saved it before pow took a tensor exponent: port x, param exponent.
OLD_POW = graph_file(
    [
        {"id": "x", "type": "Constant", "params": {"value": BASE}},
        {"id": "cube", "type": "pow", "params": {"exponent": 3.0}, "label": "x³"},
        {"id": "total", "type": "sum"},
    ],
    [edge("x.out", "cube.x"), edge("cube.out", "total.x")],
    version=1,
)


def run(graph, **inputs) -> dict:
    return Runtime(lower(graph), inputs=inputs or None, dtype="float64").forward()


def test_an_old_pow_file_loads_runs_and_gives_the_same_value():
    graph = loads(OLD_POW, "old.json")
    assert validate(graph).ok
    assert graph.source_of(PortRef("cube", "a")) == PortRef("x", "out")
    assert graph.source_of(PortRef("cube", "b")) is None and graph.node("cube").params == {"exponent": 3.0}
    before = sum(v**3.0 for v in BASE)  # what version 1 computed: x ** exponent
    assert run(graph)["total.out"].item() == pytest.approx(before, rel=1e-12)
    saved = graph_to_dict(graph)
    assert saved["version"] == 2 and edge("x.out", "cube.a") in saved["edges"]
    assert dumps(loads(dumps(graph))) == dumps(graph)


def test_the_examples_with_pow_still_load_and_validate():
    folder = Path(__file__).parents[2] / "examples"
    with_pow = [p for p in sorted(folder.glob("*.json")) if '"pow"' in p.read_text(encoding="utf-8")]
    assert with_pow
    for path in with_pow:
        graph = loads(path.read_text(encoding="utf-8"), path.name)
        assert validate(graph).ok, path.name
        for node in graph.nodes:
            if node.type == "pow":
                assert graph.source_of(PortRef(node.id, "a")) is not None


def powers() -> str:
    return graph_file(
        [
            {"id": "a", "type": "Input", "params": {"shape": ["N", 3]}},
            {"id": "b", "type": "Input", "params": {"shape": [3]}},
            {"id": "p", "type": "pow"},
        ],
        [edge("a.out", "p.a"), edge("b.out", "p.b")],
    )


def test_a_tensor_exponent_broadcasts_like_torch_pow_and_exports_as_a_power():
    graph = loads(powers())
    report = validate(graph)
    assert report.ok and report.shapes["p.out"] == ("N", 3)
    a, b = torch.rand(4, 3, dtype=torch.float64) + 0.5, torch.tensor([2.0, -0.5, 1.5], dtype=torch.float64)
    assert torch.equal(run(graph, a=a, b=b)["p.out"], torch.pow(a, b))
    assert "p = a**b" in export_python(graph).source
    graph.disconnect(PortRef("b", "out"), PortRef("p", "b"))
    graph.set_param("p", "exponent", 3.0)
    assert "p = a**3.0" in export_python(graph).source


def test_the_exponent_gets_torchs_gradient_nan_for_a_negative_base():
    """∂/∂b = aᵇ·ln a: torch's own values, which the node's doc states (NaN where a < 0, 0 at a = 0)."""
    from graphcore.derivatives.autodiff import call_with_pullback

    instr = lower(loads(powers())).by_node["p"]
    a = torch.tensor([[-2.0, 0.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([2.0, 2.0, 2.0], dtype=torch.float64)
    (da, db), _ = call_with_pullback(instr, None, (a, b)).pullback((torch.ones(1, 3, dtype=torch.float64),))
    assert torch.equal(da, torch.tensor([[-4.0, 0.0, 4.0]], dtype=torch.float64))
    assert db[0].isnan() and db[1] == 0 and db[2] == pytest.approx(4 * torch.log(torch.tensor(2.0)).item())
    assert "NaN where a < 0" in REGISTRY["pow"].doc


def pieces(type_: str, params: dict, size: int, wired: int) -> str:
    """x [N, size] cut by a node `c`, with `wired` of its outputs each feeding a relu."""
    nodes = [
        {"id": "x", "type": "Input", "params": {"shape": ["N", size]}},
        {"id": "c", "type": type_, "params": params},
        *({"id": f"r{i}", "type": "relu"} for i in range(wired)),
    ]
    return graph_file(nodes, [edge("x.out", "c.x"), *(edge(f"c.out{i}", f"r{i}.x") for i in range(wired))])


@pytest.mark.parametrize(
    ("type_", "params", "size", "expected"),
    [
        ("chunk", {"chunks": 4, "dim": 1}, 8, lambda x: torch.chunk(x, 4, dim=1)),
        ("chunk", {"chunks": 3, "dim": -1}, 7, lambda x: torch.chunk(x, 3, dim=-1)),
        (
            "split",
            {"split_size_or_sections": [2, 3, 5], "dim": 1},
            10,
            lambda x: torch.split(x, [2, 3, 5], 1),
        ),
        ("split", {"split_size_or_sections": 3, "pieces": 4, "dim": 1}, 10, lambda x: torch.split(x, 3, 1)),
    ],
)
def test_every_piece_is_an_output_that_edges_may_leave_from(type_, params, size, expected):
    want = expected(torch.randn(2, size, dtype=torch.float64))
    graph = loads(pieces(type_, params, size, len(want)))
    report = validate(graph)
    assert report.ok, report.diagnostics
    assert [report.shapes[f"c.out{i}"] for i in range(len(want))] == [("N", w.shape[1]) for w in want]
    x = torch.randn(3, size, dtype=torch.float64)
    values = run(graph, x=x)
    for i, piece in enumerate(expected(x)):
        assert torch.equal(values[f"r{i}.out"], torch.relu(piece))
    source = export_python(graph).source
    targets = ", ".join(f"c_out{i}" for i in range(len(want)))
    assert f"{targets} = torch.{type_}(x, " in source


def test_an_edge_from_a_port_the_params_do_not_give_is_one_line():
    text = pieces("chunk", {"chunks": 3, "dim": 1}, 9, 4)
    with pytest.raises(FileFormatError) as caught:
        loads(text, "f.json")
    assert str(caught.value) == (
        "f.json: edges[4]: c.out3 is not an output of chunk with these params (its outputs are out0, out1, out2)"
    )


def test_fewer_chunks_than_edges_is_a_diagnostic_on_the_reader():
    graph = loads(pieces("chunk", {"chunks": 4, "dim": 1}, 8, 4))
    graph.set_param("c", "chunks", 2)
    problems = [str(d) for d in validate(graph).diagnostics]
    assert "r2.x: reads c.out2, which c does not have (its outputs are out0, out1)" in problems
    assert "r3.x: reads c.out3, which c does not have (its outputs are out0, out1)" in problems


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be >= 1; got 0"),
        (-3, "must be >= 1; got -3"),
        (10**6, f"must be <= {MAX_OUTPUTS}; got 1000000"),
        (2.5, "expected an integer, got 2.5"),
        ("4", "expected an integer, got '4'"),
        (True, "expected an integer, got True"),
    ],
)
def test_bad_chunks_are_one_line_naming_node_and_param(value, message):
    with pytest.raises(FileFormatError) as caught:
        loads(pieces("chunk", {"chunks": value}, 4, 0), "f.json")
    assert str(caught.value) == f"f.json: nodes[1] (id 'c').params.chunks: {message}"


@pytest.mark.parametrize(
    ("type_", "params", "size", "message"),
    [
        (
            "split",
            {"split_size_or_sections": [2, 3], "dim": 1},
            10,
            "split sections [2, 3] add up to 5, but dim 1 has size 10",
        ),
        (
            "split",
            {"split_size_or_sections": 3, "dim": 1},
            10,
            "split into pieces of 3 along dim 1 (size 10) gives 4 pieces, but pieces is 2: set pieces to 4, "
            "or give the sections as a list",
        ),
        (
            "split",
            {"split_size_or_sections": 0, "dim": 1},
            4,
            "split_size_or_sections must be a positive size, not 0",
        ),
        (
            "split",
            {"split_size_or_sections": [1] * 65, "dim": 1},
            65,
            f"split_size_or_sections lists 65 sections; at most {MAX_OUTPUTS} outputs are allowed",
        ),
        (
            "chunk",
            {"chunks": 4, "dim": 1},
            6,
            "chunk into 4 along dim 1 (size 6): torch makes pieces of 2, which gives only 3; use chunks=3, "
            "or split with a list of sections",
        ),
    ],
)
def test_params_that_do_not_fit_the_shape_are_diagnostics(type_, params, size, message):
    graph = loads(pieces(type_, params, size, 0))
    assert [str(d) for d in validate(graph).diagnostics] == [f"c: {message}"]


def test_a_split_of_sections_has_one_output_per_section_up_to_the_cap():
    spec = REGISTRY["split"]
    assert spec.outputs_for({"split_size_or_sections": [1, 2, 3, 4, 5]}) == tuple(f"out{i}" for i in range(5))
    assert len(spec.outputs_for({"split_size_or_sections": [1] * 500})) == MAX_OUTPUTS
    assert REGISTRY["chunk"].outputs_for({"chunks": -1}) == ("out0", "out1")  # refused params: the defaults


def test_one_chunk_is_one_output():
    graph = loads(pieces("chunk", {"chunks": 1, "dim": 1}, 3, 1))
    x = torch.randn(2, 3, dtype=torch.float64)
    assert torch.equal(run(graph, x=x)["r0.out"], torch.relu(x))
    assert "[c_out0] = torch.chunk(x, 1, dim=1)" in export_python(graph).source


MODULE = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = nn.Parameter(torch.full((10,), 1.5))

        def forward(self, x, y):
            q, k, v, g = x.chunk(4, dim=-1)
            a, b, c = torch.split(y, [2, 3, 5], 1)
            p0, p1, p2, p3 = torch.split(y, 3, 1)
            squared = torch.pow(a, 2) + b.sum(1, keepdim=True) ** 2
            powered = q.abs() ** k
            return q * k + v - g, squared + c.sum(1, keepdim=True) + p3, powered, y.abs().pow(self.t), p0 + p1 + p2
"""

INPUTS = {"x": {"shape": ["N", 12]}, "y": {"shape": ["N", 10]}}


def imported(tmp_path: Path, text: str = MODULE):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    cls, source, namespace = load_class(f"{path}:Net")
    module = cls()
    return module, import_module(module, INPUTS, source=source, namespace=namespace)


def test_torch_calls_import_as_pow_split_and_chunk(tmp_path):
    module, result = imported(tmp_path)
    graph = result.graph
    assert result.opaque == [] and validate(graph).ok, validate(graph).diagnostics
    by_type: dict[str, list] = {}
    for node in graph.nodes:
        by_type.setdefault(node.type, []).append(node)
    assert [REGISTRY["chunk"].with_defaults(n.params)["chunks"] for n in by_type["chunk"]] == [4]
    splits = [(n.params["split_size_or_sections"], n.params.get("pieces", 2)) for n in by_type["split"]]
    assert splits == [([2, 3, 5], 2), (3, 4)]
    powers = {
        n.id: (n.params.get("exponent", 2.0), graph.source_of(PortRef(n.id, "b")) is not None)
        for n in by_type["pow"]
    }
    assert sorted(powers.values()) == [(2, False), (2, False), (2.0, True), (2.0, True)]
    assert "Constant" not in by_type  # x ** 2: the 2 is a param, not a node
    chunk = by_type["chunk"][0].id
    assert all(graph.consumers_of(PortRef(chunk, f"out{i}")) for i in range(4))
    x, y = torch.randn(3, 12, dtype=torch.float64), torch.randn(3, 10, dtype=torch.float64)
    expected = module.double()(x, y)
    got = list(run(graph, x=x, y=y).values())
    assert len(got) == len(expected)
    for want in expected:
        assert any(g.shape == want.shape and torch.allclose(g, want, rtol=1e-12, atol=1e-12) for g in got)


def test_fewer_pieces_than_chunks_import_as_opaque(tmp_path):
    """torch.chunk(x, 5) of 12 gives 4 pieces of 3: the chunk node refuses that, so the call is Opaque."""
    text = """
        import torch
        from torch import nn


        class Net(nn.Module):
            def forward(self, x, y):
                a, b, c, d = torch.chunk(x, 5, 1)
                return a + b + c + d + y.sum()
    """
    _, result = imported(tmp_path, text)
    assert [call for _, call in result.opaque] == ["torch.chunk"] * 4
    assert validate(result.graph).ok


@pytest.mark.parametrize(
    ("type_", "params", "wired"),
    [
        ("split", {"split_size_or_sections": [1, 2, 1, 3, 2], "dim": 1}, 5),
        ("chunk", {"chunks": 1, "dim": 1}, 1),
    ],
)
def test_export_and_import_keep_many_pieces(tmp_path, type_, params, wired):
    graph = loads(pieces(type_, params, 9, wired))
    exported = export_python(graph, name="pieces", script_name="pieces.py")
    path = tmp_path / "pieces.py"
    path.write_text(exported.source, encoding="utf-8")
    cls, source, namespace = load_class(f"{path}:{exported.class_name}")
    again = import_module(cls(), {"x": {"shape": ["N", 9]}}, source=source, namespace=namespace)
    assert again.opaque == [] and same_structure(graph, again.graph)
    assert {n.id for n in again.graph.nodes} == {n.id for n in graph.nodes}  # `[c_out0] = ...` names c
    x = torch.randn(4, 9, dtype=torch.float64)
    ours, theirs = run(graph, x=x), run(again.graph, x=x)
    assert sorted(v.sum().item() for v in ours.values()) == sorted(v.sum().item() for v in theirs.values())


def test_onnx_export_keeps_every_piece_and_the_tensor_power(tmp_path):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from graphcore.exchange.export_onnx import export_onnx

    nodes = [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 10]}},
        {"id": "c", "type": "chunk", "params": {"chunks": 5, "dim": 1}},
        {"id": "s", "type": "split", "params": {"split_size_or_sections": [2, 3, 5], "dim": 1}},
        {"id": "e", "type": "Constant", "params": {"value": [1.5, 0.5]}},
        {"id": "base", "type": "exp"},
        {"id": "p", "type": "pow"},
        {"id": "q", "type": "pow", "params": {"exponent": 3.0}},
    ]
    edges = [
        edge("x.out", "c.x"),
        edge("x.out", "s.x"),
        edge("c.out4", "base.x"),
        edge("base.out", "p.a"),
        edge("e.out", "p.b"),
        edge("s.out2", "q.a"),
    ]
    result = export_onnx(loads(graph_file(nodes, edges)), tmp_path / "pieces.onnx")
    assert len(result.outputs) == 4 + 2 + 1 + 1  # c.out0-3, s.out0-1, p.out, q.out
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-5
