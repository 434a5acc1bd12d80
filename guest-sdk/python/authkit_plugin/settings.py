"""Settings the deployment gives this handler, from the ``[settings]`` table
of ``<plugin>.toml`` beside the component. Values are strings."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple, TypeVar

from ._host import backend
from .errors import Error

T = TypeVar("T")


def get(key: str) -> Optional[str]:
    """Return the value of the setting ``key``, or ``None`` if it is not set."""
    return backend().settings_get(key)


def all() -> List[Tuple[str, str]]:
    """Return every setting as ``(key, value)`` pairs, sorted by key."""
    return backend().settings_all()


def get_or(key: str, default: T, parse: Callable[[str], Any] = str) -> Any:
    """Return the setting ``key`` converted by ``parse``, or ``default`` if
    it is not set.

    Raises :class:`~authkit_plugin.Error` naming the key and the value when
    ``parse`` raises ``ValueError``.
    """
    value = get(key)
    if value is None:
        return default
    try:
        return parse(value)
    except ValueError as error:
        raise Error(
            f"invalid value `{value}` for setting `{key}`: {error}; "
            "fix the setting in the host's configuration"
        ) from None


def get_list(key: str, separator: str = ",") -> Optional[List[str]]:
    """Return the setting ``key`` split at ``separator``, with each item
    stripped and empty items dropped, or ``None`` if it is not set."""
    value = get(key)
    if value is None:
        return None
    return [item.strip() for item in value.split(separator) if item.strip()]
