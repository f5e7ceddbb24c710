"""RFC 3923 end-to-end signing and object encryption for XMPP (``<e2e/>``, S/MIME, CPIM)."""

from __future__ import annotations

from ._cpim import CPIMAddress, CPIMHeader, CPIMMessage, build_cpim, parse_cpim

__all__ = [
    "CPIMAddress",
    "CPIMHeader",
    "CPIMMessage",
    "build_cpim",
    "parse_cpim",
]
