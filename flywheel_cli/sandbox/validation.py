"""Body checks that answer like FastAPI/pydantic v2: 422 with `{"detail": [{"type", "loc", "msg", "input"}]}`.

Every problem in a body is collected before answering, as pydantic does, so a client sees all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flywheel_cli.sandbox.api import ApiError, field_error

Loc = tuple[Any, ...]
_MISSING = object()


def _expected(choices: Iterable[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class Checker:
    """Collects field errors; `done()` raises a 422 when there are any."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def fail(self, kind: str, loc: Loc, msg: str, value: Any, ctx: dict[str, Any] | None = None) -> None:
        self.errors.append(field_error(kind, loc, msg, value, ctx))

    def done(self) -> None:
        if self.errors:
            raise ApiError(422, self.errors)

    def _get(self, obj: dict[str, Any], key: str, loc: Loc, required: bool) -> Any:
        value = obj.get(key, _MISSING)
        if value is _MISSING or (value is None and required):
            if required:
                self.fail("missing", loc, "Field required", obj)
            return _MISSING
        return value

    def present(self, obj: dict[str, Any], key: str, loc: Loc, required: bool = True) -> Any:
        value = self._get(obj, key, loc, required)
        return None if value is _MISSING else value

    def string(self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False) -> str | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            self.fail("string_type", loc, "Input should be a valid string", value)
            return None
        return value

    def integer(
        self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        parsed: int | None = None
        if isinstance(value, bool):
            parsed = None
        elif isinstance(value, int):
            parsed = value
        elif isinstance(value, float) and value.is_integer():
            parsed = int(value)
        elif isinstance(value, str):
            try:
                parsed = int(value)
            except ValueError:
                self.fail(
                    "int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", value
                )
                return None
        if parsed is None:
            self.fail("int_type", loc, "Input should be a valid integer", value)
            return None
        if minimum is not None and parsed < minimum:
            self.fail(
                "greater_than_equal", loc, f"Input should be greater than or equal to {minimum}", value, {"ge": minimum}
            )
            return None
        return parsed

    def number(
        self,
        obj: dict[str, Any],
        key: str,
        loc: Loc,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
    ) -> float | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.fail("float_type", loc, "Input should be a valid number", value)
            return None
        try:
            parsed = float(value)
        except ValueError:
            self.fail("float_parsing", loc, "Input should be a valid number, unable to parse string as a number", value)
            return None
        if minimum is not None and (parsed <= minimum if exclusive_minimum else parsed < minimum):
            if exclusive_minimum:
                self.fail("greater_than", loc, f"Input should be greater than {minimum}", value, {"gt": minimum})
            else:
                msg = f"Input should be greater than or equal to {minimum}"
                self.fail("greater_than_equal", loc, msg, value, {"ge": minimum})
            return None
        if maximum is not None and parsed > maximum:
            self.fail(
                "less_than_equal", loc, f"Input should be less than or equal to {maximum}", value, {"le": maximum}
            )
            return None
        return parsed

    def boolean(self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False) -> bool | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, bool):
            self.fail("bool_type", loc, "Input should be a valid boolean", value)
            return None
        return value

    def enum(
        self, obj: dict[str, Any], key: str, loc: Loc, choices: Iterable[str], required: bool = False
    ) -> str | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        options = list(choices)
        if value not in options:
            expected = _expected(options)
            self.fail("enum", loc, f"Input should be {expected}", value, {"expected": expected})
            return None
        return str(value)

    def mapping(self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False) -> dict[str, Any] | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, dict):
            self.fail("dict_type", loc, "Input should be a valid dictionary", value)
            return None
        return value

    def listing(self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False) -> list[Any] | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, list):
            self.fail("list_type", loc, "Input should be a valid list", value)
            return None
        return value

    def str_or_mapping(
        self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False
    ) -> str | dict[str, Any] | None:
        value = self._get(obj, key, loc, required)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, (str, dict)):
            self.fail("string_type", loc, "Input should be a valid string", value)
            self.fail("model_type", loc, "Input should be a valid dictionary or object", value)
            return None
        return value

    def value_error(self, loc: Loc, message: str, value: Any) -> None:
        self.fail("value_error", loc, f"Value error, {message}", value, {"error": {}})


def check_common(c: Checker, body: dict[str, Any]) -> None:
    """Fields every NMP entity accepts."""
    for key in ("name", "namespace", "description", "project"):
        c.string(body, key, ("body", key))
    c.mapping(body, "custom_fields", ("body", "custom_fields"))
    c.mapping(body, "ownership", ("body", "ownership"))
