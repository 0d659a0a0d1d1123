"""Validation turns every kind of mistake into diagnostics naming node and port, never an exception."""

from graphcore.graph import Graph, Node, PortRef
from graphcore.registry import load_library
from graphcore.validate import validate

load_library()


def wire(graph: Graph, src: str, dst: str) -> None:
    graph.connect(PortRef.parse(src), PortRef.parse(dst))


def messages(graph: Graph) -> list[str]:
    return [str(d) for d in validate(graph).diagnostics]


def test_a_clean_graph_has_shapes_for_every_value():
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", 3]}))
    graph.add_node(Node("fc", "Linear", {"in_features": 3, "out_features": 2}))
    graph.add_node(Node("s", "sum"))
    wire(graph, "x.out", "fc.x")
    wire(graph, "fc.out", "s.x")
    report = validate(graph)
    assert report.ok
    assert report.shapes == {"x.out": ("N", 3), "fc.out": ("N", 2), "s.out": ()}


def test_unknown_type_bad_param_and_unconnected_input():
    graph = Graph()
    graph.add_node(Node("q", "Quux"))
    graph.add_node(Node("fc", "Linear", {"in_features": -1, "out_features": 2}))
    graph.add_node(Node("m", "mul"))
    assert messages(graph) == [
        "q: unknown node type 'Quux' (from a newer version?)",
        "fc.in_features: must be >= 1; got -1",
        "fc.x: input is not connected",
        "m.a: input is not connected",
        "m.b: input is not connected",
    ]


def test_shape_mismatch_names_the_node_and_the_sizes():
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", 4]}))
    graph.add_node(Node("fc", "Linear", {"in_features": 3, "out_features": 2}))
    graph.add_node(Node("after", "relu"))
    wire(graph, "x.out", "fc.x")
    wire(graph, "fc.out", "after.x")
    assert messages(graph) == ["fc: Linear in_features=3 but x has 4 features"]


def test_broadcast_mismatch_and_literal_that_does_not_fit_its_shape():
    graph = Graph()
    graph.add_node(Node("a", "Input", {"shape": [2, 3]}))
    graph.add_node(Node("b", "Input", {"shape": [4], "value": [1.0, 2.0]}))
    graph.add_node(Node("c", "add"))
    wire(graph, "a.out", "c.a")
    wire(graph, "b.out", "c.b")
    assert messages(graph) == ["b: value has shape [2] but shape is [4]"]


def test_cycle_is_reported_not_raised():
    graph = Graph()
    graph.add_node(Node("a", "neg"))
    graph.add_node(Node("b", "neg"))
    wire(graph, "a.out", "b.x")
    # the editor's connect() refuses cycles; the loader's bulk connect does not look (it checks once, after)
    graph.connect(PortRef("b", "out"), PortRef("a", "x"), check_cycle=False)
    assert any("is on a cycle" in m for m in messages(graph))


def test_a_crashing_shape_rule_becomes_a_diagnostic():
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": []}))
    graph.add_node(Node("s", "sum", {"dim": 3}))
    wire(graph, "x.out", "s.x")
    assert messages(graph) == ["s: dim 3 is out of range for x of shape []"]


def test_parameter_inits_need_enough_dimensions():
    graph = Graph()
    graph.add_node(Node("w", "Parameter", {"shape": [3], "init": "xavier_uniform"}))
    assert messages(graph) == ["w: xavier_uniform needs a weight of at least 2 dimensions, not [3]"]


def test_params_changed_in_place_after_a_clean_validate_are_checked_again():
    """param_problems remembers params it accepted, by value: an edit in place is seen, and True is not 1."""
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", 1]}))
    graph.add_node(Node("fc", "Linear", {"in_features": 1, "out_features": 1}))
    wire(graph, "x.out", "fc.x")
    assert validate(graph).ok
    graph.node("fc").params["out_features"] = True
    assert messages(graph) == ["fc.out_features: expected an integer, got True"]
    graph.node("fc").params["out_features"] = 0
    assert messages(graph) == ["fc.out_features: must be >= 1; got 0"]
    graph.node("fc").params["out_features"] = 1.0
    assert messages(graph) == ["fc.out_features: expected an integer, got 1.0"]
