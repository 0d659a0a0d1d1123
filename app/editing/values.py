"""Param values as text, both ways: what the canvas and the inspector show, and what a user types.

JSON, except that names in shapes are shown and accepted bare (`[N, 3]`, not `["N", 3]`), and an
empty field means null for an optional param.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BARE_NAME = re.compile(r'(?<!["\w])([A-Za-z_]\w*)(?!["\w])')


class ValueReadError(ValueError):
    """Typed text that is not a value at all (the message says why)."""


def show_value(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return re.sub(r'"([A-Za-z_]\w*)"', r"\1", text) if isinstance(value, list) else text


def parse_value(text: str, optional: bool) -> Any:
    text = text.strip()
    if not text:
        if optional:
            return None
        raise ValueReadError("a value is needed")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    quoted = _BARE_NAME.sub(lambda m: m[1] if m[1] in ("true", "false", "null") else f'"{m[1]}"', text)
    try:
        return json.loads(quoted)
    except json.JSONDecodeError as error:
        raise ValueReadError(f"cannot read {text!r}: {error.msg} at column {error.colno}") from None
