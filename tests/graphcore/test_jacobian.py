"""The derivative lab's engine: Jacobians by three methods, pass counts, and sums over paths."""

import json
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphcore.derivatives.paths import edge_derivatives, jacobian, mlp_family_graph, path_sum
from graphcore.files.fileformat import load, loads
from graphcore.program import lower
from graphcore.runtime import Runtime

EXAMPLES = Path(__file__).parents[2] / "examples"
SMOOTH_UNARY = ["sigmoid", "tanh", "neg", "exp"]
SMOOTH_BINARY = ["add", "sub", "mul"]


def test_path_sum_example_factors_as_in_the_notes():
    runtime = Runtime(lower(load(EXAMPLES / "path_sum.json")))
    paths = path_sum(runtime, "b.out", "e.out")
    assert [(p.values, p.factors) for p in paths] == [
        (["b.out", "c.out", "e.out"], [1.0, 2.0]),
        (["b.out", "d.out", "e.out"], [1.0, 3.0]),
    ]
    assert sum(p.product for p in paths) == 5.0
    assert edge_derivatives(runtime)[("c.out", "e.a")] == 2.0  # ∂e/∂c = d


def test_pass_counts_are_n_for_forward_and_m_for_reverse():
    runtime = Runtime(lower(loads(json.dumps(mlp_family_graph(5, 3)))), batch=1)
    n_forward = jacobian(runtime, ["fc2.out"], ["x.out"], "forward")
    n_reverse = jacobian(runtime, ["fc2.out"], ["x.out"], "reverse")
    fd = jacobian(runtime, ["fc2.out"], ["x.out"], "fd")
    assert (n_forward.passes, n_reverse.passes, fd.passes) == (5, 3, 10)
    assert n_forward.matrix.shape == (3, 5)
    torch.testing.assert_close(n_forward.matrix, n_reverse.matrix, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fd.matrix, n_reverse.matrix, rtol=1e-6, atol=1e-7)
    x = runtime.inputs["x"].clone()
    expected = torch.autograd.functional.jacobian(lambda v: runtime.module(v), x)
    torch.testing.assert_close(n_reverse.matrix, expected.detach(), rtol=1e-10, atol=1e-12)


def test_rows_and_columns_are_labelled_by_component():
    runtime = Runtime(lower(loads(json.dumps(mlp_family_graph(2, 2)))))
    result = jacobian(runtime, ["fc2.out", "h.out"], ["x.out"], "reverse")
    assert result.columns == ["x.out[0]", "x.out[1]"]
    assert result.rows[:2] == ["fc2.out[0]", "fc2.out[1]"] and len(result.rows) == 2 + 16


@st.composite
def random_scalar_dags(draw):
    """Small DAGs of smooth scalar ops over three inputs, every op reading earlier values."""
    nodes = [
        {
            "id": f"i{k}",
            "type": "Input",
            "params": {"shape": [], "value": draw(st.floats(-1.5, 1.5, allow_nan=False))},
        }
        for k in range(3)
    ]
    edges, values = [], [f"i{k}.out" for k in range(3)]
    for k in range(draw(st.integers(1, 7))):
        binary = draw(st.booleans())
        op = draw(st.sampled_from(SMOOTH_BINARY if binary else SMOOTH_UNARY))
        node = f"n{k}"
        nodes.append({"id": node, "type": op})
        for port in ("a", "b") if binary else ("x",):
            edges.append({"from": draw(st.sampled_from(values)), "to": f"{node}.{port}"})
        values.append(f"{node}.out")
    text = json.dumps({"format": "backprop-studio-graph", "version": 1, "nodes": nodes, "edges": edges})
    return loads(text), values[-1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_scalar_dags())
def test_forward_reverse_fd_and_path_sum_agree_on_random_graphs(case):
    graph, of = case
    runtime = Runtime(lower(graph))
    wrt = ["i0.out", "i1.out", "i2.out"]
    forward = jacobian(runtime, [of], wrt, "forward")
    reverse = jacobian(runtime, [of], wrt, "reverse")
    fd = jacobian(runtime, [of], wrt, "fd")
    assert (forward.passes, reverse.passes) == (3, 1)
    torch.testing.assert_close(forward.matrix, reverse.matrix, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fd.matrix, reverse.matrix, rtol=1e-5, atol=1e-6)
    for column, source in enumerate(wrt):
        total = sum(p.product for p in path_sum(runtime, source, of))
        assert abs(total - reverse.matrix[0, column].item()) <= 1e-10 * max(1.0, abs(total))
