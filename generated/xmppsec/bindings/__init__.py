# DO NOT EDIT — regenerate with python -m codegen
"""Typed dataclass bindings generated from XML schemas; one module per namespace.

- ``xmppsec.bindings.delay``: ``urn:xmpp:delay`` (delay.xsd)
- ``xmppsec.bindings.dsig``: ``urn:xmpp:dsig:0`` (xmpp-dsig.xsd)
- ``xmppsec.bindings.dsig_robust``: ``urn:xmpp:tmp:dsig:robust:0`` (xmpp-dsig-robust.xsd)
- ``xmppsec.bindings.e2e``: ``urn:ietf:params:xml:ns:xmpp-e2e`` (xmpp-e2e.xsd)
- ``xmppsec.bindings.jabber_client``: ``jabber:client`` (jabber-client.xsd)
- ``xmppsec.bindings.pidf``: ``urn:ietf:params:xml:ns:pidf`` (pidf.xsd)
- ``xmppsec.bindings.stanzas``: ``urn:ietf:params:xml:ns:xmpp-stanzas`` (xmpp-stanzas.xsd)
- ``xmppsec.bindings.xml``: ``http://www.w3.org/XML/1998/namespace`` (xml.xsd)
- ``xmppsec.bindings.xmldsig``: ``http://www.w3.org/2000/09/xmldsig#`` (xmldsig-core.xsd)
- ``xmppsec.bindings.xmldsig11``: ``http://www.w3.org/2009/xmldsig11#`` (xmldsig11.xsd)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "NAMESPACE_MODULES",
    "SCHEMA_RESOURCE",
]

NAMESPACE_MODULES: Final[Mapping[str, str]] = {
    "urn:xmpp:delay": "xmppsec.bindings.delay",
    "urn:xmpp:dsig:0": "xmppsec.bindings.dsig",
    "urn:xmpp:tmp:dsig:robust:0": "xmppsec.bindings.dsig_robust",
    "urn:ietf:params:xml:ns:xmpp-e2e": "xmppsec.bindings.e2e",
    "jabber:client": "xmppsec.bindings.jabber_client",
    "urn:ietf:params:xml:ns:pidf": "xmppsec.bindings.pidf",
    "urn:ietf:params:xml:ns:xmpp-stanzas": "xmppsec.bindings.stanzas",
    "http://www.w3.org/XML/1998/namespace": "xmppsec.bindings.xml",
    "http://www.w3.org/2000/09/xmldsig#": "xmppsec.bindings.xmldsig",
    "http://www.w3.org/2009/xmldsig11#": "xmppsec.bindings.xmldsig11",
}
"""XML namespace → the module holding its bindings."""

SCHEMA_RESOURCE: Final = "xsd/xmppsec.xsd"
"""The umbrella XSD, relative to this package (``importlib.resources``)."""
