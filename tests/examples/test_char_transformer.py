"""The causal char transformer learns more than how common each letter is: in its own 264 training
steps its validation loss falls below the shipped text's unigram entropy (≈ 2.88 nats)."""

import collections
import math
from pathlib import Path

from graphcore.files.fileformat import load
from graphcore.training.train import Trainer

EXAMPLES = Path(__file__).parents[2] / "examples"


def unigram_entropy(text: str) -> float:
    counts = collections.Counter(text)
    return -sum(c / len(text) * math.log(c / len(text)) for c in counts.values())


def test_the_char_transformer_beats_the_unigram_entropy():
    graph = load(EXAMPLES / "char_transformer.json")
    trainer = Trainer(graph, EXAMPLES)
    assert trainer.total_steps == 264
    result = trainer.run()
    entropy = unigram_entropy((EXAMPLES / "data" / "gradient_rhymes.txt").read_text(encoding="utf-8"))
    assert 2.8 < entropy < 3.0
    assert result.stopped == "finished" and result.validation["loss"] < entropy - 0.3, result.validation


def test_its_attention_is_causal_and_its_text_is_small():
    graph = load(EXAMPLES / "char_transformer.json")
    assert graph.node("attn").params["is_causal"] is True
    assert (EXAMPLES / "data" / "gradient_rhymes.txt").stat().st_size < 8000
    assert 200 < len(graph.meta["description"]) <= 2000
