"""torch, imported on first attribute access.

`import torch` costs over a second; the CLI's `check` and the app's start-up should not pay it
until a tensor is actually needed. Node declarations write `torch.sigmoid(x)` inside functions.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def _lazy(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} is not installed")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


torch = _lazy("torch")
