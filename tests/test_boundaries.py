"""Package boundaries: the core never imports Qt, and checking a file never loads torch."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()


def test_graphcore_and_nodes_never_import_qt():
    code = (
        "import sys, graphcore, nodes, graphcore.cli.main, graphcore.stepping, graphcore.derivatives.autodiff; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6', 'shiboken6', 'pyqtgraph'}))"
    )
    assert python(code) == "[]"


def test_checking_a_graph_does_not_load_torch():
    code = (
        "import sys; from graphcore.cli.main import main; main(['check', 'examples/sigmoid_neuron.json']); "
        "print('torch' in sys.modules)"
    )
    assert python(code).splitlines() == ["ok: 11 nodes, 10 edges", "False"]
