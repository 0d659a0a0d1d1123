"""Generated integer inputs are valid indices for what reads them; given arrays are checked like the CLI's."""

from pathlib import Path

import numpy as np
import pytest
import torch

from graphcore.feeds import SMALL_INDEX, FeedError, check_given, default_inputs, index_range
from graphcore.files.fileformat import graph_from_dict, load
from graphcore.program import lower
from graphcore.runtime import Runtime
from tests.cli.test_cli_inputs import GRAPH

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def program():
    return lower(graph_from_dict(GRAPH))


def test_integer_inputs_are_valid_varied_indices(program):
    values = default_inputs(program, torch.float64, "cpu", batch=64, seed=1)
    tok, label, count = values["tok"], values["label"], values["count"]
    assert tok.dtype == label.dtype == count.dtype == torch.long
    assert tok.shape == (64, 4) and tok.min() >= 0 and tok.max() < 5 and len(tok.unique()) == 5
    assert label.min() >= 0 and label.max() < 2 and len(label.unique()) == 2
    assert count.min() >= 0 and count.max() < SMALL_INDEX


def test_generated_values_follow_the_seed(program):
    first, again = (default_inputs(program, torch.float64, "cpu", batch=64, seed=1) for _ in range(2))
    other = default_inputs(program, torch.float64, "cpu", batch=64, seed=2)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["tok"], other["tok"])


def test_ranges_name_the_reader(program):
    assert index_range(program, "tok").reader == "emb (Embedding, num_embeddings 5)"
    found = index_range(program, "label")
    assert (found.bound, found.allowed) == (2, frozenset({-100}))  # the loss's ignore_index is a valid target
    assert index_range(program, "count") is None


def test_check_given_binds_n_and_refuses_out_of_range(program):
    checked, dims = check_given(program, {"tok": np.array([[0, 1, 2, 4]]), "label": np.array([-100])})
    assert dims == {"N": 1} and checked["tok"].dtype == np.int64
    with pytest.raises(FeedError, match="Input 'tok': index 7 is out of range"):
        check_given(program, {"tok": np.array([[0, 1, 2, 7]])})


def test_an_embedding_example_runs_on_valid_indices():
    """The attention example reads token-like integer labels: generated ones are in range, not all zero,
    and the run's outputs are finite and not constant."""
    program = lower(load(EXAMPLES / "attention_sequence_sign.json"))
    runtime = Runtime(program, batch=16, seed=0)
    longs = {n: v for n, v in runtime.inputs.items() if v.dtype == torch.long}
    assert longs
    for node, value in longs.items():
        found = index_range(program, node)
        assert found is not None and 0 <= value.min() and value.max() < found.bound
        assert len(value.unique()) > 1
    outputs = runtime.forward()
    assert all(torch.isfinite(v).all() for v in outputs.values())
    assert any(v.numel() > 1 and v.std() > 0 for v in outputs.values())
