"""Tolerant readers for fields of platform answers: a drifted or missing field becomes None, never a crash."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number else None  # NaN is "no value"


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None
