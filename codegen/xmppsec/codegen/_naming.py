"""Naming rules of the generated bindings: namespace → module, qualified attribute → field.

The rules are documented in docs/decisions/codegen.md; keep the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

# Namespaces the xmppsec schemas define, and the module each one is generated into
# (package ``xmppsec.bindings``).  A schema of a namespace not listed here gets a module named
# after its file (see ``module_for_file``).  Namespace URIs: XML 1.0 (Namespaces §3), XML-DSig
# core and 1.1, XEP-0290 v0.2, xmppsec's robust profile (an XEP-0053 urn:xmpp:tmp: namespace),
# RFC 3923 §4, RFC 6120 (jabber:client, stanza errors), XEP-0203, RFC 3863 (PIDF).
WELL_KNOWN_MODULES: Final[Mapping[str, str]] = {
    "http://www.w3.org/XML/1998/namespace": "xml",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig",
    "http://www.w3.org/2009/xmldsig11#": "xmldsig11",
    "urn:xmpp:dsig:0": "dsig",
    "urn:xmpp:tmp:dsig:robust:0": "dsig_robust",
    "urn:ietf:params:xml:ns:xmpp-e2e": "e2e",
    "jabber:client": "jabber_client",
    "urn:ietf:params:xml:ns:xmpp-stanzas": "stanzas",
    "urn:xmpp:delay": "delay",
    "urn:ietf:params:xml:ns:pidf": "pidf",
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PYTHON_KEYWORDS: Final = frozenset(
    "False None True and as assert async await break class continue def del elif else except "
    "finally for from global if import in is lambda nonlocal not or pass raise return try "
    "while with yield".split()
)


def module_for_file(stem: str) -> str:
    """Module name for a schema file stem: ``xmpp-e2e`` → ``e2e``, ``sec-label`` → ``sec_label``.

    Drops a leading ``xmpp-`` and a trailing ``-core`` (they carry no information inside an
    XMPP bindings package), lower-cases, and turns every run of other characters into ``_``.
    """
    name = stem.lower()
    name = name.removeprefix("xmpp-")
    name = name.removesuffix("-core")
    name = re.sub(r"[^a-z0-9]+", "_", name).strip("_")
    if not name or name[0].isdigit():
        name = f"ns_{name}"
    if name in _PYTHON_KEYWORDS:
        name = f"{name}_"
    return name


def is_identifier(name: str) -> bool:
    """True for a plain Python identifier that is not a keyword."""
    return bool(_IDENTIFIER.match(name)) and name not in _PYTHON_KEYWORDS


def qualified_attribute_field(module: str, local_name: str) -> str:
    """Field name of a namespace-qualified attribute: ``<module of its namespace>_<local name>``.

    ``xml:lang`` → ``xml_lang``, ``{urn:xmpp:dsig:0}id`` → ``dsig_id``.  Stable whatever else the
    class contains, unlike xsdata's collision renaming (``id``, ``id_1``, ``id_attribute``).
    """
    local = re.sub(r"[^A-Za-z0-9]+", "_", local_name)
    local = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", local).lower().strip("_")
    return f"{module}_{local}"
