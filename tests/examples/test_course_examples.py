"""The course's examples do what their descriptions promise, from their own training sections:
logistic regression separates its blobs, the autoencoder reconstructs digits through 8 numbers, the
LSTM learns its task, and the five initialisation files' first-batch gradients differ by orders of
magnitude (read through the Trainer, as Training Plots shows them)."""

from pathlib import Path

import pytest

from graphcore.files.fileformat import load
from graphcore.training.train import Trainer

EXAMPLES = Path(__file__).parents[2] / "examples"
COURSE = ["logistic_regression", "autoencoder", "lstm_sequence_sign"] + [
    f"init_{s}" for s in ("zeros", "small", "large", "xavier", "he")
]


def trained(name: str):
    graph = load(EXAMPLES / f"{name}.json")
    result = Trainer(graph, EXAMPLES).run()
    assert result.stopped == "finished"
    return result


@pytest.mark.parametrize("name", COURSE)
def test_a_course_example_says_what_it_shows(name):
    meta = load(EXAMPLES / f"{name}.json").meta
    assert meta["title"] and 200 < len(meta["description"]) <= 2000


def test_logistic_regression_reaches_97_percent_validation_accuracy():
    assert trained("logistic_regression").validation["accuracy"] >= 0.97


def test_the_autoencoder_reconstructs_digits_below_0_03():
    pytest.importorskip("sklearn")
    assert trained("autoencoder").validation["loss"] < 0.03


def test_the_lstm_learns_the_sign_of_the_sum():
    assert trained("lstm_sequence_sign").validation["accuracy"] >= 0.95


def first_batch_weight_norms(scheme: str) -> list[float]:
    """fc1 … fc10's weight-gradient norms after the first training step, in layer order."""
    trainer = Trainer(load(EXAMPLES / f"init_{scheme}.json"), EXAMPLES)
    trainer.step()
    norms = trainer.grad_norms()
    return [norms[f"fc{i}.weight"] for i in range(1, 11)]


@pytest.fixture(scope="module")
def norms():
    pytest.importorskip("sklearn")
    return {s: first_batch_weight_norms(s) for s in ("zeros", "small", "large", "xavier", "he")}


def test_constant_weights_get_no_gradient_at_all(norms):
    assert norms["zeros"] == [0.0] * 10


def test_too_small_weights_get_gradients_nine_orders_below_xavier(norms):
    assert max(norms["small"]) < 1e-9 * min(norms["xavier"])


def test_too_large_weights_explode_on_the_way_back(norms):
    large = norms["large"]
    assert large[0] > 100 * large[-1]
    assert large == sorted(large, reverse=True)


@pytest.mark.parametrize("scheme", ["xavier", "he"])
def test_xavier_and_he_keep_every_layer_within_a_factor_of_three(norms, scheme):
    assert max(norms[scheme]) < 3 * min(norms[scheme])
