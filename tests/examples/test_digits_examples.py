"""The scikit-learn digits examples learn what their descriptions promise: at least 95 % validation
accuracy from their own training section, in seconds on a CPU."""

from pathlib import Path

import pytest

from graphcore.files.fileformat import load
from graphcore.training.train import Trainer

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_a_digits_example_reaches_95_percent_validation_accuracy(name):
    pytest.importorskip("sklearn")
    graph = load(EXAMPLES / f"{name}.json")
    trainer = Trainer(graph, EXAMPLES)
    assert trainer.n_train == 1438 and len(trainer.validation_data["y"]) == 359
    result = trainer.run()
    assert result.stopped == "finished"
    assert result.validation["accuracy"] >= 0.95, result.validation
    assert graph.meta["title"] and len(graph.meta["description"]) > 100
