"""The document model: nodes, port-to-port edges, fan-out, one edge per input, events."""

import pytest

from graphcore.graph import EditError, Graph, Node, PortRef
from graphcore.registry import load_library

load_library()


def small_graph() -> Graph:
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": [], "value": 1.0}))
    graph.add_node(Node("w", "Parameter", {"shape": [], "init": "value", "value": 2.0}))
    graph.add_node(Node("m", "mul"))
    graph.add_node(Node("s", "sigmoid"))
    graph.connect(PortRef("w", "out"), PortRef("m", "a"))
    graph.connect(PortRef("x", "out"), PortRef("m", "b"))
    graph.connect(PortRef("m", "out"), PortRef("s", "x"))
    return graph


def test_port_ref_parses_and_prints():
    ref = PortRef.parse("fc1.out")
    assert (ref.node, ref.port, str(ref)) == ("fc1", "out", "fc1.out")
    with pytest.raises(ValueError):
        PortRef.parse("nodot")


def test_output_fans_out_and_input_takes_one_edge():
    graph = small_graph()
    graph.add_node(Node("t", "tanh"))
    graph.connect(PortRef("w", "out"), PortRef("t", "x"))  # w now feeds m.a and t.x
    assert graph.consumers_of(PortRef("w", "out")) == [PortRef("m", "a"), PortRef("t", "x")]
    replaced = graph.connect(PortRef("x", "out"), PortRef("m", "a"))  # replaces w -> m.a
    assert replaced == PortRef("w", "out")
    assert graph.source_of(PortRef("m", "a")) == PortRef("x", "out")
    assert graph.consumers_of(PortRef("w", "out")) == [PortRef("t", "x")]


def test_refusals_say_why():
    graph = small_graph()
    assert "cycle" in graph.why_not_connect(PortRef("s", "out"), PortRef("m", "a"))
    assert "not an input" in graph.why_not_connect(PortRef("x", "out"), PortRef("m", "out"))
    assert "not an output" in graph.why_not_connect(PortRef("m", "a"), PortRef("s", "x"))
    assert "no node" in graph.why_not_connect(PortRef("nope", "out"), PortRef("s", "x"))
    assert "already connected" in graph.why_not_connect(PortRef("m", "out"), PortRef("s", "x"))
    with pytest.raises(EditError, match="cycle"):
        graph.connect(PortRef("s", "out"), PortRef("m", "b"))
    with pytest.raises(EditError, match="already a node"):
        graph.add_node(Node("x", "Input"))


def test_every_mutation_emits_one_event():
    graph = Graph()
    seen = []
    for name in ("node_added", "node_removed", "edge_added", "edge_removed", "node_changed"):
        getattr(graph, name).connect(lambda *args, name=name: seen.append((name, args)))
    graph.add_node(Node("a", "Input", {"shape": []}))
    graph.add_node(Node("b", "neg"))
    graph.connect(PortRef("a", "out"), PortRef("b", "x"))
    graph.set_attr("b", "label", "minus a")
    graph.set_param("a", "value", 3.0)
    graph.remove_node("a")
    assert [name for name, _ in seen] == [
        "node_added",
        "node_added",
        "edge_added",
        "node_changed",
        "node_changed",
        "edge_removed",
        "node_removed",
    ]
    assert graph.node("b").label == "minus a" and graph.edges == []


def test_set_attr_copies_and_rejects_unknown_attributes():
    graph = small_graph()
    params = {"shape": [], "value": 4.0}
    graph.set_attr("x", "params", params)
    params["value"] = 5.0
    assert graph.node("x").params["value"] == 4.0
    with pytest.raises(EditError, match="not an editable attribute"):
        graph.set_attr("x", "type", "Parameter")


def test_topological_order_follows_insertion_among_ready_nodes():
    graph = small_graph()
    assert graph.topological_order() == ["x", "w", "m", "s"]
    assert graph.generations() == [["w", "x"], ["m"], ["s"]]


def test_unique_id():
    graph = small_graph()
    assert graph.unique_id("m") == "m2"
    assert graph.unique_id("fresh") == "fresh"


def test_a_node_put_back_at_its_index_keeps_file_and_schedule_order():
    graph = small_graph()
    index = graph.index_of("w")
    edges = graph.edges_of("w")
    node = graph.remove_node("w")
    graph.add_node(node, index=index)
    for src, dst in edges:
        graph.connect(src, dst)
    assert [n.id for n in graph.nodes] == ["x", "w", "m", "s"]
    assert graph.topological_order() == ["x", "w", "m", "s"]
    graph.add_node(Node("first", "Input", {"shape": []}), index=0)
    assert [n.id for n in graph.nodes][:2] == ["first", "x"]


def test_edges_are_listed_by_destination_not_by_when_they_were_connected():
    graph = small_graph()
    before = graph.edges
    graph.disconnect(PortRef("w", "out"), PortRef("m", "a"))
    graph.connect(PortRef("w", "out"), PortRef("m", "a"))
    assert graph.edges == before
    assert [str(dst) for _, dst in before] == ["m.a", "m.b", "s.x"]
    assert sorted(graph.edges_of("m")) == sorted(e for e in before if "m" in (e[0].node, e[1].node))
    assert len(graph.edges_of("m")) == 3


def test_edge_count_follows_connects_disconnects_and_removed_nodes():
    graph = small_graph()
    assert graph.edge_count == len(graph.edges) == 3
    graph.disconnect(PortRef("w", "out"), PortRef("m", "a"))
    assert graph.edge_count == len(graph.edges) == 2
    graph.remove_node("m")
    assert graph.edge_count == len(graph.edges) == 0


def test_meta_and_training_changes_emit_events():
    graph = small_graph()
    seen = []
    graph.meta_changed.connect(seen.append)
    graph.training_changed.connect(lambda: seen.append("training"))
    graph.set_meta("title", "A neuron")
    graph.set_meta("title", None)
    section = {"loss": "s.out"}
    graph.set_training(section)
    section["loss"] = "changed"
    assert seen == ["title", "title", "training"]
    assert graph.meta == {} and graph.training == {"loss": "s.out"}


def test_topological_order_when_an_edge_points_back_in_file_order():
    graph = small_graph()
    graph.add_node(Node("first", "neg"), index=0)
    graph.connect(PortRef("s", "out"), PortRef("first", "x"))
    assert [n.id for n in graph.nodes] == ["first", "x", "w", "m", "s"]
    assert graph.topological_order() == ["x", "w", "m", "s", "first"]


def test_the_networkx_graph_built_on_first_use_is_the_one_built_edge_by_edge():
    """Loading leaves networkx out until an algorithm needs it; edits must not tell the difference."""
    late, early = small_graph(), Graph()
    early.add_node(Node("x", "Input", {"shape": [], "value": 1.0}))
    assert early.descendants("x") == set()  # networkx from the first node on
    for node in small_graph().nodes[1:]:
        early.add_node(node)
    for src, dst in ((("w", "out"), ("m", "a")), (("x", "out"), ("m", "b")), (("m", "out"), ("s", "x"))):
        early.connect(PortRef(*src), PortRef(*dst))
    for graph in (late, early):
        graph.add_node(Node("t", "tanh"))
        graph.connect(PortRef("w", "out"), PortRef("t", "x"))
    for node_id in ("x", "w", "m", "s", "t"):
        assert late.edges_of(node_id) == early.edges_of(node_id)
    assert late.consumers_of(PortRef("w", "out")) == early.consumers_of(PortRef("w", "out"))
    assert late.generations() == early.generations() and late.ancestors("s") == early.ancestors("s")


def test_rename_node_keeps_its_place_edges_and_training_references():
    graph = small_graph()
    graph.set_training({"inputs": {"x": "x", "other": "o"}, "loss": "m.out", "predict": "s.out"})
    seen: list[str] = []
    graph.node_removed.connect(lambda node: seen.append(f"-{node.id}"))
    graph.node_added.connect(lambda node: seen.append(f"+{node.id}"))
    before = [(str(s), str(d)) for s, d in graph.edges]
    graph.rename_node("m", "product")
    assert [n.id for n in graph.nodes] == ["x", "w", "product", "s"]
    assert [(str(s), str(d)) for s, d in graph.edges] == [
        (s.replace("m.", "product."), d.replace("m.", "product.")) for s, d in before
    ]
    assert graph.training["loss"] == "product.out" and graph.training["predict"] == "s.out"
    assert seen == ["-m", "+product"]
    graph.rename_node("x", "inp")
    assert list(graph.training["inputs"]) == ["inp", "other"]  # the key keeps its place
    graph.rename_node("inp", "x")
    graph.rename_node("product", "m")
    assert [(str(s), str(d)) for s, d in graph.edges] == before
    assert graph.training == {"inputs": {"x": "x", "other": "o"}, "loss": "m.out", "predict": "s.out"}


@pytest.mark.parametrize(
    "new_id, reason",
    [
        ("", "a node id cannot be empty"),
        ("  ", "a node id cannot be empty"),
        ("w", "there is already a node 'w'"),
        ("a.b", "a node id cannot contain '.' (id 'a.b')"),
        ("a\tb", "a node id cannot contain the control character '\\t' (id 'a\\tb')"),
        ("x" * 201, "a node id has at most 200 characters (201 given)"),
        ("a\ud800", "character 2 of the id ('\\ud800') cannot be saved as UTF-8"),
    ],
)
def test_rename_node_refuses_ids_a_file_cannot_hold(new_id: str, reason: str):
    graph = small_graph()
    assert graph.why_not_rename("m", new_id) == reason
    with pytest.raises(EditError) as refused:
        graph.rename_node("m", new_id)
    assert str(refused.value) == reason
    assert [n.id for n in graph.nodes] == ["x", "w", "m", "s"] and len(graph.edges) == 3
