# DO NOT EDIT — regenerate with python -m codegen
# Source: delay.xsd
"""Bindings for the XML namespace urn:xmpp:delay.

Dataclasses for the elements and types of delay.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xsdata.models.datatype import XmlDateTime

__NAMESPACE__ = "urn:xmpp:delay"

__all__ = [
    "Delay",
    "DelayType",
]


@dataclass(slots=True, kw_only=True)
class DelayType:
    """
    Optional natural-language reason for the delay, with the stamp and originating entity as
    attributes.
    """

    class Meta:
        name = "DelayType"

    value: str = field(default="")
    stamp: XmlDateTime = field(metadata={"type": "Attribute"})
    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class Delay(DelayType):
    """
    When (and by whom) a stanza was originally received or stored for later delivery (XEP-0203 §3).
    """

    class Meta:
        name = "delay"
        namespace = "urn:xmpp:delay"
