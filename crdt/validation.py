"""Validation of user input into stored values, by the field specs of :mod:`.schema`.

Stored values are plain JSON-like Python values: ``str``, ``float``, ``int``, ``bool``,
``list[str]`` and ``dict[str, str]``; dates are ISO strings so that they sort and compare as
text and survive every export format unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from .checks import MAX_INT, ValidationError, check_span, currency, text, timezone
from .iso4217 import currency_code
from .schema import KINDS, FieldSpec, kind_spec


def parse_date(value: Any, name: str = "date") -> str:
    """Accept ISO dates (and date objects); store ``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValidationError(f"{name}: {value!r} is not a date (use YYYY-MM-DD)") from None


def parse_datetime(value: Any, name: str = "datetime") -> str:
    """Accept ISO date-times or dates; store ISO text (dates stay dates for all-day events)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ValidationError(
            f"{name}: {value!r} is not a date-time (use YYYY-MM-DDTHH:MM)"
        ) from None


def _number(spec: FieldSpec, value: Any, cast: type) -> float | int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{spec.name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValidationError(f"{spec.name}: {value!r} is not a finite number")
    if abs(number) > MAX_INT and cast is int:
        raise ValidationError(f"{spec.name}: {value!r} is out of range")
    number = cast(number)
    if spec.minimum is not None and number < spec.minimum:
        raise ValidationError(f"{spec.name}: {value!r} must be at least {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValidationError(f"{spec.name}: {value!r} must be at most {spec.maximum:g}")
    return number


def _bool(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValidationError(f"{spec.name}: {value!r} is not yes/no")


def _list(spec: FieldSpec, value: Any) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        raise ValidationError(f"{spec.name}: {value!r} is not a list")
    return [text(v, spec.name) for v in items if v]


def coerce(spec: FieldSpec, value: Any, choices: tuple[str, ...] = ()) -> Any:
    """Turn one user-supplied value into its stored form, or raise ValidationError."""
    if value is None:
        return None
    kind = spec.type
    if kind == "str":
        return text(value, spec.name)
    if kind == "currency":
        return currency(value, spec.name)
    if kind == "timezone":
        return timezone(value, spec.name)
    if kind == "float":
        return float(_number(spec, value, float))
    if kind == "int":
        return int(_number(spec, value, int))
    if kind == "bool":
        return _bool(spec, value)
    if kind == "date":
        return parse_date(value, spec.name)
    if kind == "datetime":
        return parse_datetime(value, spec.name)
    if kind == "list":
        return _list(spec, value)
    if kind == "map":
        if not isinstance(value, dict):
            raise ValidationError(f"{spec.name}: {value!r} is not a mapping")
        return {text(k, spec.name): text(v, spec.name) for k, v in value.items()}
    if kind == "enum":
        allowed = choices or spec.choices
        choice = normalise_choice(str(value))
        if choice not in allowed:
            raise ValidationError(
                f"{spec.name}: unknown value {value!r} (one of: {', '.join(allowed)})"
            )
        return choice
    raise AssertionError(f"unhandled field type {kind}")


def normalise_choice(text: str) -> str:
    """'Closed Won', 'closed-won' and 'closed_won' are the same choice."""
    return "_".join(text.strip().lower().replace("-", " ").replace("/", " ").split())


def validate(
    kind: str,
    values: dict[str, Any],
    *,
    partial: bool = False,
    choices: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Validate and coerce fields of ``kind``; ``partial`` is for updates (nothing required).

    ``choices`` supplies workspace-configured enums (the stage list). Unknown field names are
    an error rather than silently dropped, so a typo in a CLI flag or import map is caught.
    """
    spec = kind_spec(kind)
    out: dict[str, Any] = {}
    for name, value in values.items():
        fspec = spec.by_name.get(name)
        if fspec is None:
            raise ValidationError(f"{kind} has no field {name!r}")
        coerced = coerce(fspec, value, (choices or {}).get(name, ()))
        if fspec.required and coerced in (None, ""):
            raise ValidationError(f"{name} must not be empty")
        out[name] = coerced
    if not partial:
        missing = [f.name for f in spec.fields if f.required and f.name not in out]
        if missing:
            raise ValidationError(f"{kind} needs {', '.join(missing)}")
    check_span(out)
    return out


def readable(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A stored record as views may use it, whoever wrote it (a modified client writes what it
    likes): numbers that are not numbers, not finite or out of their field's range, time zones
    that do not exist and lists that are not lists become None; currencies are upper-cased and
    other text fields hold text. Every peer computes the same, so all show the same."""
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        return data
    out = dict(data)
    for f in spec.fields:
        value = out.get(f.name)
        if value is None:
            continue
        if f.type in ("float", "int", "timezone"):
            try:
                out[f.name] = coerce(f, value)
            except ValidationError:
                out[f.name] = None
        elif f.type == "currency":
            out[f.name] = currency_code(value) or str(value)
        elif f.type == "list" and not isinstance(value, list):
            out[f.name] = None
        elif f.type == "str" and not isinstance(value, str):
            out[f.name] = str(value)
    return out
