"""The checks the `training` section is made of: each takes (where, value) and returns the value or
raises a TrainingConfigError of one line that names the key and quotes the bad value, shortened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

MAX_COUNT = 10**9  # steps, epochs, batch sizes: more than any run could use, small enough for torch
MAX_SEED = 2**32 - 1  # torch and numpy take it, and the runtime derives per-input seeds from it
SHOWN = 80  # characters of a bad value quoted in a message
PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


class TrainingConfigError(ValueError):
    """A training section that cannot be used; the message names the key."""


def shorten(value: Any, limit: int = SHOWN) -> str:
    """repr() of any JSON value cut to about `limit` characters: safe for deep nesting, huge integers
    and long strings, so a hostile value never makes a long message or a slow one."""
    text = _short_repr(value, limit, 0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: Any, limit: int, depth: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    if isinstance(value, str):
        return repr(value[:limit])
    if isinstance(value, list | tuple | dict):
        if depth > 8:
            return "[…]" if isinstance(value, list | tuple) else "{…}"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        parts, size = [], 0
        for key, item in items:
            part = _short_repr(item, limit, depth + 1)
            part = f"{_short_repr(key, limit, depth + 1)}: {part}" if isinstance(value, dict) else part
            parts.append(part)
            size += len(part) + 2
            if size > limit:
                parts.append("…")
                break
        inside = ", ".join(parts)
        return "{" + inside + "}" if isinstance(value, dict) else "[" + inside + "]"
    return repr(value)


def key_name(key: Any) -> str:
    """A key as it reads in a message path: plain keys as they are, anything else quoted and shortened."""
    return key if isinstance(key, str) and PLAIN_KEY.fullmatch(key) else shorten(key, 40)


def fail(where: str, message: str) -> TrainingConfigError:
    return TrainingConfigError(f"training.{where}: {message}")


Check = Callable[[str, Any], Any]  # (where, value) -> the value, or raises TrainingConfigError


def count(minimum: int = 1, maximum: int = MAX_COUNT) -> Check:
    what = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, "an integer")

    def check(where: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise fail(where, f"must be {what}, got {shorten(value)}")
        if value > maximum:
            raise fail(where, f"must be at most {maximum}, got {shorten(value)}")
        return value

    return check


def number(low: float = -math.inf, strict: bool = False, high: float = math.inf, what: str = "") -> Check:
    """A finite number in [low, high) (or (low, high) when strict); `what` words the range."""
    what = what or ("a positive" if strict else "a non-negative" if low == 0 else "a finite") + " number"

    def check(where: str, value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise fail(where, f"must be {what}, got {shorten(value)}")
        if isinstance(value, int) and value.bit_length() > 1000:
            raise fail(where, f"must be {what}, got {shorten(value)}")
        if not math.isfinite(value) or value < low or (strict and value == low) or value >= high:
            raise fail(where, f"must be {what}, got {shorten(value)}")
        return value

    return check


def choice(options: tuple[str, ...], noun: str = "value") -> Check:
    def check(where: str, value: Any) -> str:
        if isinstance(value, str) and value not in options:
            raise fail(where, f"unknown {noun} {shorten(value)} (expected one of {', '.join(options)})")
        if not isinstance(value, str):
            raise fail(where, f"expected one of {', '.join(options)}, got {shorten(value)}")
        return value

    return check


def flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(where, f"must be true or false, got {shorten(value)}")
    return value


def text_value(where: str, value: Any) -> str:
    """A non-empty string that can be written to a file and shown (no lone surrogates, no NULs)."""
    if not isinstance(value, str) or not value:
        raise fail(where, f"must be a non-empty string, got {shorten(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(where, f"holds characters that cannot be written as UTF-8: {shorten(value)}") from None
    if "\0" in value:
        raise fail(where, f"must not hold a NUL character, got {shorten(value)}")
    return value


def optional(check: Check) -> Check:
    return lambda where, value: None if value is None else check(where, value)


def checked_object(where: str, value: Any, checks: Mapping[str, Check], example: str) -> dict[str, Any]:
    """A JSON object whose keys all have a check; each value checked under `where.key`."""
    if not isinstance(value, dict):
        raise fail(where, f"expected an object such as {example}, got {shorten(value)}")
    for key, item in value.items():
        if key not in checks:
            known = ", ".join(checks) or "none"
            raise fail(f"{where}.{key_name(key)}", f"unknown key (known: {known})")
        checks[key](f"{where}.{key}", item)
    return dict(value)
