# DO NOT EDIT — regenerate with python -m codegen
# Source: jabber-client.xsd
"""Bindings for the XML namespace jabber:client.

Dataclasses for the elements and types of jabber-client.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ForwardRef

from xmppsec.bindings.stanzas import (
    EmptyType,
    TextType,
)

__NAMESPACE__ = "jabber:client"

__all__ = [
    "ErrorType",
    "ErrorTypeValue",
    "Iq",
    "IqType",
    "IqTypeValue",
    "LangTextType",
    "Message",
    "MessageType",
    "MessageTypeValue",
    "Presence",
    "PresenceType",
    "PresenceTypeValue",
    "PriorityType",
    "ShowType",
    "ShowValue",
    "ThreadType",
    "Xmpp",
    "XmppWrapperType",
]


class ErrorTypeValue(Enum):
    """Error type (RFC 6120 §8.3.2): what the sender should do."""

    AUTH = "auth"
    CANCEL = "cancel"
    CONTINUE = "continue"
    MODIFY = "modify"
    WAIT = "wait"


class IqTypeValue(Enum):
    """IQ type (RFC 6120 §8.2.3)."""

    ERROR = "error"
    GET = "get"
    RESULT = "result"
    SET = "set"


@dataclass(slots=True, kw_only=True)
class LangTextType:
    """Human-readable text with an optional language and an optional XEP-0290 d:id."""

    class Meta:
        name = "LangTextType"

    value: str = field(default="")
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )


class MessageTypeValue(Enum):
    """Message type (RFC 6121 §5.2.2); absent means normal."""

    CHAT = "chat"
    ERROR = "error"
    GROUPCHAT = "groupchat"
    HEADLINE = "headline"
    NORMAL = "normal"


class PresenceTypeValue(Enum):
    """Presence type (RFC 6121 §4.7.1); absent means available."""

    ERROR = "error"
    PROBE = "probe"
    SUBSCRIBE = "subscribe"
    SUBSCRIBED = "subscribed"
    UNAVAILABLE = "unavailable"
    UNSUBSCRIBE = "unsubscribe"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(slots=True, kw_only=True)
class PriorityType:
    """An integer from -128 to 127, with an optional XEP-0290 d:id."""

    class Meta:
        name = "PriorityType"

    value: int = field()
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )


class ShowValue(Enum):
    """Availability sub-state (RFC 6121 §4.7.2.1)."""

    AWAY = "away"
    CHAT = "chat"
    DND = "dnd"
    XA = "xa"


@dataclass(slots=True, kw_only=True)
class ThreadType:
    """Thread identifier with an optional parent thread and an optional XEP-0290 d:id."""

    class Meta:
        name = "ThreadType"

    value: str = field(default="")
    parent: None | str = field(default=None, metadata={"type": "Attribute"})
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class ErrorType:
    """
    A stanza error: one defined condition, optional text, optional application-specific condition
    (RFC 6120 §8.3.2).
    """

    class Meta:
        name = "ErrorType"

    choice: (
        None
        | ErrorType.BadRequest
        | ErrorType.Conflict
        | ErrorType.FeatureNotImplemented
        | ErrorType.Forbidden
        | ErrorType.Gone
        | ErrorType.InternalServerError
        | ErrorType.ItemNotFound
        | ErrorType.JidMalformed
        | ErrorType.NotAcceptable
        | ErrorType.NotAllowed
        | ErrorType.NotAuthorized
        | ErrorType.PolicyViolation
        | ErrorType.RecipientUnavailable
        | ErrorType.Redirect
        | ErrorType.RegistrationRequired
        | ErrorType.RemoteServerNotFound
        | ErrorType.RemoteServerTimeout
        | ErrorType.ResourceConstraint
        | ErrorType.ServiceUnavailable
        | ErrorType.SubscriptionRequired
        | ErrorType.UndefinedCondition
        | ErrorType.UnexpectedRequest
    ) = field(
        default=None,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "bad-request",
                    "type": ForwardRef("ErrorType.BadRequest"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "conflict",
                    "type": ForwardRef("ErrorType.Conflict"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "feature-not-implemented",
                    "type": ForwardRef("ErrorType.FeatureNotImplemented"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "forbidden",
                    "type": ForwardRef("ErrorType.Forbidden"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "gone",
                    "type": ForwardRef("ErrorType.Gone"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "internal-server-error",
                    "type": ForwardRef("ErrorType.InternalServerError"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "item-not-found",
                    "type": ForwardRef("ErrorType.ItemNotFound"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "jid-malformed",
                    "type": ForwardRef("ErrorType.JidMalformed"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "not-acceptable",
                    "type": ForwardRef("ErrorType.NotAcceptable"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "not-allowed",
                    "type": ForwardRef("ErrorType.NotAllowed"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "not-authorized",
                    "type": ForwardRef("ErrorType.NotAuthorized"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "policy-violation",
                    "type": ForwardRef("ErrorType.PolicyViolation"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "recipient-unavailable",
                    "type": ForwardRef("ErrorType.RecipientUnavailable"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "redirect",
                    "type": ForwardRef("ErrorType.Redirect"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "registration-required",
                    "type": ForwardRef("ErrorType.RegistrationRequired"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "remote-server-not-found",
                    "type": ForwardRef("ErrorType.RemoteServerNotFound"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "remote-server-timeout",
                    "type": ForwardRef("ErrorType.RemoteServerTimeout"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "resource-constraint",
                    "type": ForwardRef("ErrorType.ResourceConstraint"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "service-unavailable",
                    "type": ForwardRef("ErrorType.ServiceUnavailable"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "subscription-required",
                    "type": ForwardRef("ErrorType.SubscriptionRequired"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "undefined-condition",
                    "type": ForwardRef("ErrorType.UndefinedCondition"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
                {
                    "name": "unexpected-request",
                    "type": ForwardRef("ErrorType.UnexpectedRequest"),
                    "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas",
                },
            ),
        },
    )
    text: None | TextType = field(
        default=None,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:xmpp-stanzas"},
    )
    other_element: None | object = field(
        default=None,
        metadata={"type": "Wildcard", "namespace": "##other"},
    )
    type_value: ErrorTypeValue = field(metadata={"name": "type", "type": "Attribute"})
    by: None | str = field(default=None, metadata={"type": "Attribute"})
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )

    @dataclass(slots=True, kw_only=True)
    class BadRequest(EmptyType):
        class Meta:
            name = "bad-request"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class Conflict(EmptyType):
        class Meta:
            name = "conflict"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class FeatureNotImplemented(EmptyType):
        class Meta:
            name = "feature-not-implemented"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class Forbidden(EmptyType):
        class Meta:
            name = "forbidden"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class Gone:
        class Meta:
            name = "gone"
            global_type = False

        value: str = field(default="")

    @dataclass(slots=True, kw_only=True)
    class InternalServerError(EmptyType):
        class Meta:
            name = "internal-server-error"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class ItemNotFound(EmptyType):
        class Meta:
            name = "item-not-found"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class JidMalformed(EmptyType):
        class Meta:
            name = "jid-malformed"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class NotAcceptable(EmptyType):
        class Meta:
            name = "not-acceptable"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class NotAllowed(EmptyType):
        class Meta:
            name = "not-allowed"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class NotAuthorized(EmptyType):
        class Meta:
            name = "not-authorized"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class PolicyViolation(EmptyType):
        class Meta:
            name = "policy-violation"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class RecipientUnavailable(EmptyType):
        class Meta:
            name = "recipient-unavailable"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class Redirect:
        class Meta:
            name = "redirect"
            global_type = False

        value: str = field(default="")

    @dataclass(slots=True, kw_only=True)
    class RegistrationRequired(EmptyType):
        class Meta:
            name = "registration-required"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class RemoteServerNotFound(EmptyType):
        class Meta:
            name = "remote-server-not-found"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class RemoteServerTimeout(EmptyType):
        class Meta:
            name = "remote-server-timeout"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class ResourceConstraint(EmptyType):
        class Meta:
            name = "resource-constraint"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class ServiceUnavailable(EmptyType):
        class Meta:
            name = "service-unavailable"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class SubscriptionRequired(EmptyType):
        class Meta:
            name = "subscription-required"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class UndefinedCondition(EmptyType):
        class Meta:
            name = "undefined-condition"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class UnexpectedRequest(EmptyType):
        class Meta:
            name = "unexpected-request"
            global_type = False


@dataclass(slots=True, kw_only=True)
class ShowType:
    """One of away, chat, dnd, xa, with an optional XEP-0290 d:id."""

    class Meta:
        name = "ShowType"

    value: ShowValue = field()
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class IqType:
    """
    Payload and error children in any order; the one-payload rule of RFC 6120 §8.2.3 is
    runtime-checked.
    """

    class Meta:
        name = "IqType"

    error_or_other_element: list[ErrorType | object] = field(
        default_factory=list,
        metadata={
            "type": "Elements",
            "choices": (
                {"name": "error", "type": ErrorType, "namespace": "jabber:client"},
                {"wildcard": True, "type": object, "namespace": "##other"},
            ),
        },
    )
    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    to: None | str = field(default=None, metadata={"type": "Attribute"})
    id: str = field(metadata={"type": "Attribute"})
    type_value: IqTypeValue = field(metadata={"name": "type", "type": "Attribute"})
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )

    @property
    def errors(self) -> tuple[ErrorType, ...]:
        """Every ``error`` child in ``error_or_other_element``, in document order."""
        items = self.error_or_other_element
        return tuple(c for c in items if type(c) is ErrorType)

    @property
    def error(self) -> ErrorType | None:
        """The first ``error`` child in ``error_or_other_element``, or None."""
        found = self.errors
        return found[0] if found else None


@dataclass(slots=True, kw_only=True)
class MessageType:
    """Any number of subject, body, thread, error and extension children, in any order."""

    class Meta:
        name = "MessageType"

    choice: list[MessageType.Subject | MessageType.Body | ThreadType | ErrorType | object] = field(
        default_factory=list,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "subject",
                    "type": ForwardRef("MessageType.Subject"),
                    "namespace": "jabber:client",
                },
                {
                    "name": "body",
                    "type": ForwardRef("MessageType.Body"),
                    "namespace": "jabber:client",
                },
                {"name": "thread", "type": ThreadType, "namespace": "jabber:client"},
                {"name": "error", "type": ErrorType, "namespace": "jabber:client"},
                {"wildcard": True, "type": object, "namespace": "##other"},
            ),
        },
    )
    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    to: None | str = field(default=None, metadata={"type": "Attribute"})
    id: None | str = field(default=None, metadata={"type": "Attribute"})
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )
    type_value: MessageTypeValue = field(
        default=MessageTypeValue.NORMAL,
        metadata={"name": "type", "type": "Attribute"},
    )

    @property
    def subjects(self) -> tuple[MessageType.Subject, ...]:
        """Every ``subject`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is MessageType.Subject)

    @property
    def subject(self) -> MessageType.Subject | None:
        """The first ``subject`` child in ``choice``, or None."""
        found = self.subjects
        return found[0] if found else None

    @property
    def bodies(self) -> tuple[MessageType.Body, ...]:
        """Every ``body`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is MessageType.Body)

    @property
    def body(self) -> MessageType.Body | None:
        """The first ``body`` child in ``choice``, or None."""
        found = self.bodies
        return found[0] if found else None

    @property
    def threads(self) -> tuple[ThreadType, ...]:
        """Every ``thread`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is ThreadType)

    @property
    def thread(self) -> ThreadType | None:
        """The first ``thread`` child in ``choice``, or None."""
        found = self.threads
        return found[0] if found else None

    @property
    def errors(self) -> tuple[ErrorType, ...]:
        """Every ``error`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is ErrorType)

    @property
    def error(self) -> ErrorType | None:
        """The first ``error`` child in ``choice``, or None."""
        found = self.errors
        return found[0] if found else None

    @dataclass(slots=True, kw_only=True)
    class Subject(LangTextType):
        class Meta:
            name = "subject"
            global_type = False

    @dataclass(slots=True, kw_only=True)
    class Body(LangTextType):
        class Meta:
            name = "body"
            global_type = False


@dataclass(slots=True, kw_only=True)
class PresenceType:
    """Any number of show, status, priority, error and extension children, in any order."""

    class Meta:
        name = "PresenceType"

    choice: list[ShowType | LangTextType | PriorityType | ErrorType | object] = field(
        default_factory=list,
        metadata={
            "type": "Elements",
            "choices": (
                {"name": "show", "type": ShowType, "namespace": "jabber:client"},
                {"name": "status", "type": LangTextType, "namespace": "jabber:client"},
                {"name": "priority", "type": PriorityType, "namespace": "jabber:client"},
                {"name": "error", "type": ErrorType, "namespace": "jabber:client"},
                {"wildcard": True, "type": object, "namespace": "##other"},
            ),
        },
    )
    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    to: None | str = field(default=None, metadata={"type": "Attribute"})
    id: None | str = field(default=None, metadata={"type": "Attribute"})
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )
    type_value: None | PresenceTypeValue = field(
        default=None,
        metadata={"name": "type", "type": "Attribute"},
    )

    @property
    def shows(self) -> tuple[ShowType, ...]:
        """Every ``show`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is ShowType)

    @property
    def show(self) -> ShowType | None:
        """The first ``show`` child in ``choice``, or None."""
        found = self.shows
        return found[0] if found else None

    @property
    def statuses(self) -> tuple[LangTextType, ...]:
        """Every ``status`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is LangTextType)

    @property
    def status(self) -> LangTextType | None:
        """The first ``status`` child in ``choice``, or None."""
        found = self.statuses
        return found[0] if found else None

    @property
    def priorities(self) -> tuple[PriorityType, ...]:
        """Every ``priority`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is PriorityType)

    @property
    def priority(self) -> PriorityType | None:
        """The first ``priority`` child in ``choice``, or None."""
        found = self.priorities
        return found[0] if found else None

    @property
    def errors(self) -> tuple[ErrorType, ...]:
        """Every ``error`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is ErrorType)

    @property
    def error(self) -> ErrorType | None:
        """The first ``error`` child in ``choice``, or None."""
        found = self.errors
        return found[0] if found else None


@dataclass(slots=True, kw_only=True)
class Iq(IqType):
    """A request/response interaction (RFC 6120 §8.2.3)."""

    class Meta:
        name = "iq"
        namespace = "jabber:client"


@dataclass(slots=True, kw_only=True)
class Message(MessageType):
    """A push message from one entity to another (RFC 6120 §8.2.1, RFC 6121 §5)."""

    class Meta:
        name = "message"
        namespace = "jabber:client"


@dataclass(slots=True, kw_only=True)
class Presence(PresenceType):
    """Availability broadcast or subscription management (RFC 6120 §8.2.2, RFC 6121 §4)."""

    class Meta:
        name = "presence"
        namespace = "jabber:client"


@dataclass(slots=True, kw_only=True)
class XmppWrapperType:
    """Exactly one message, presence or iq."""

    class Meta:
        name = "XmppWrapperType"

    message_or_presence_or_iq: None | Message | Presence | Iq = field(
        default=None,
        metadata={
            "type": "Elements",
            "choices": (
                {"name": "message", "type": Message, "namespace": "jabber:client"},
                {"name": "presence", "type": Presence, "namespace": "jabber:client"},
                {"name": "iq", "type": Iq, "namespace": "jabber:client"},
            ),
        },
    )


@dataclass(slots=True, kw_only=True)
class Xmpp(XmppWrapperType):
    """
    Root of an application/xmpp+xml object (RFC 3923 §5, §10): wraps exactly one stanza to be
    signed or encrypted.
    """

    class Meta:
        name = "xmpp"
        namespace = "jabber:client"
