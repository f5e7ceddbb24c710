"""Small typed shims over lxml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

__all__ = ["nsmap"]


def nsmap(mapping: Mapping[str | None, str]) -> dict[str, str]:
    """An ``nsmap`` argument. lxml takes ``None`` as the default-namespace key; lxml-stubs
    types the keys as ``str`` only, so the mapping is cast once, here."""
    return cast("dict[str, str]", dict(mapping))
