"""Integrations of xmppsec with XMPP client libraries.

Each integration is its own module and imports its library only when imported itself:
``xmppsec.integrations.slixmpp`` needs the ``slixmpp`` extra.
"""

__all__: list[str] = []
