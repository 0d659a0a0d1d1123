"""Where the example graphs live: the File ▸ Examples menu lists them and `backprop-studio` opens one."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_EXAMPLE = EXAMPLES / "sigmoid_neuron.json"


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))
