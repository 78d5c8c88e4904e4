"""Argument checks shared by the public classes: wrong types raise ``TypeError`` naming the
argument, the expected type and the type received."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, List, Optional, Tuple, Type, Union

Number = Union[int, float]


def type_name(value: Any) -> str:
    return type(value).__name__


def fail(name: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"{name} must be {expected}, not {type_name(value)}")


def string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(name, "str", value)
    return value


def opt_string(name: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    return string(name, value)


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(name, "bool", value)
    return value


def integer(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(name, "int", value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def opt_integer(name: str, value: Any, minimum: int = 0) -> Optional[int]:
    if value is None:
        return None
    return integer(name, value, minimum)


def seconds(name: str, value: Any) -> float:
    """A non-negative duration in seconds (int, float or ``timedelta``)."""
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(name, "a number of seconds or a datetime.timedelta", value)
    if value != value or value < 0:  # NaN or negative
        raise ValueError(f"{name} must be a non-negative number of seconds, got {value}")
    return float(value)


def millis(name: str, value: Any) -> int:
    return int(round(seconds(name, value) * 1000))


def opt_millis(name: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    return millis(name, value)


def strings(name: str, value: Any) -> List[str]:
    """A list of str from any iterable of str (a bare str is refused: it would be split)."""
    if isinstance(value, (str, bytes)):
        raise fail(name, "an iterable of str", value)
    try:
        items = list(value)
    except TypeError:
        raise fail(name, "an iterable of str", value) from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise fail(f"{name}[{i}]", "str", item)
    return items


def instance(name: str, value: Any, cls: Union[Type[Any], Tuple[Type[Any], ...]], what: str) -> Any:
    if not isinstance(value, cls):
        raise fail(name, what, value)
    return value


def callable_(name: str, value: Any) -> Any:
    if not callable(value):
        raise fail(name, "callable", value)
    return value


def iterable(name: str, value: Any, what: str) -> Iterable[Any]:
    try:
        return iter(value)
    except TypeError:
        raise fail(name, what, value) from None
