"""torch, imported on first attribute access.

`import torch` costs over a second; the CLI's `check` and the app's start-up should not pay it
until a tensor is actually needed. Node declarations write `torch.sigmoid(x)` inside functions.

The stand-in is never put in `sys.modules`: a half-imported torch there (what
`importlib.util.LazyLoader` leaves) makes a later `import torch.distributed` run torch's
initialisation inside its own and abort in C++ ("GradBucket is already defined").
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _Deferred(ModuleType):
    """A module that imports the real one the first time one of its attributes is read; each
    attribute read is kept, so the next read of it is as fast as the real module's."""

    def __getattr__(self, name: str) -> Any:
        value = getattr(importlib.import_module(self.__name__), name)
        setattr(self, name, value)
        return value


if TYPE_CHECKING:
    import torch  # the checker reads torch's own types; at run time the stand-in below
else:
    torch = _Deferred("torch")
