"""The residual-block example: one ResBlock definition repeated three times learns the digits to
the accuracy its description promises, each copy with weights of its own."""

from pathlib import Path

import pytest

from graphcore.blocks import flatten
from graphcore.files.fileformat import load
from graphcore.training.train import Trainer

EXAMPLE = Path(__file__).parents[2] / "examples" / "resnet_blocks.json"


def test_the_example_is_one_block_repeated_three_times_between_a_stem_and_a_head():
    graph = load(EXAMPLE)
    assert list(graph.blocks) == ["ResBlock"]
    assert graph.node("res").params == {"block": "ResBlock", "repeat": 3}
    flat_ids = {node.id for node in flatten(graph).nodes}
    assert {f"res/{k}/fc1" for k in (1, 2, 3)} <= flat_ids
    description = graph.meta["description"]
    assert "repeat 3" in description and "95 %" in description


def test_the_resnet_blocks_example_reaches_95_percent_validation_accuracy():
    pytest.importorskip("sklearn")
    graph = load(EXAMPLE)
    trainer = Trainer(graph, EXAMPLE.parent)
    assert trainer.n_train == 1438 and len(trainer.validation_data["y"]) == 359
    copies = [trainer.weights[f"res/{k}/fc1"] for k in (1, 2, 3)]
    assert all(copies) and len({name for names in copies for name in names}) == 2 * 3
    result = trainer.run()
    assert result.stopped == "finished"
    assert result.validation["accuracy"] >= 0.95, result.validation
