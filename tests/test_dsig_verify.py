"""XEP-0290 verification (both profiles; the spec profile unless named): result semantics, policies, trust, JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from lxml import etree

from xmppsec.dsig import (
    ROBUST,
    SPEC,
    Policy,
    Profile,
    ReferenceStatus,
    Signer,
    TimestampStatus,
    VerificationResult,
    Verifier,
)
from xmppsec.errors import (
    DigestMismatch,
    LimitExceeded,
    RestrictedXMLError,
    StanzaMismatch,
    StanzaSchemaError,
    TimestampError,
    UnsignedContent,
    UntrustedKey,
    UsageError,
    XmppSecError,
)
from xmppsec.keys import certificate_fingerprint
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import (
        CA,
        CAPULET,
        DS,
        DSIG_ID,
        JC,
        JULIET,
        MESSAGE,
        NOW,
        ROMEO,
        assert_rejected,
        assert_valid,
        child,
        desc_copy,
        identity,
        issue,
        make_ca,
        make_signer,
        new_clock,
        pins,
        resign,
        sign,
        signature,
        tree,
        utf8_addr,
        verifier,
        xml,
    )
else:
    from conftest import (
        CA,
        CAPULET,
        DS,
        DSIG_ID,
        JC,
        JULIET,
        MESSAGE,
        NOW,
        ROMEO,
        assert_rejected,
        assert_valid,
        child,
        desc_copy,
        identity,
        issue,
        make_ca,
        make_signer,
        new_clock,
        pins,
        resign,
        sign,
        signature,
        tree,
        utf8_addr,
        verifier,
        xml,
    )

OPTIMISTIC = Policy.optimistic()
FOUR = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net' "
    b"id='4' type='chat'><subject>a</subject><body>b</body><thread>c</thread>"
    b"<x xmlns='urn:example:ext'>d</x></message>"
)


def _four_statuses() -> bytes:
    """Child 1 intact, 2 changed, 3 removed, 4 duplicated."""
    root = tree(sign(FOUR))
    subject, body, thread, ext = list(root)[:4]
    body.text = "B"
    root.remove(thread)
    dup = etree.Element("{urn:example:ext}x")
    dup.set(DSIG_ID, ext.get(DSIG_ID) or "")
    dup.text = "d2"
    root.insert(0, dup)
    return xml(root)


def test_reference_statuses_optimistic() -> None:
    data = _four_statuses()
    result = verifier(policy=OPTIMISTIC).verify(data, now=NOW)
    [sig] = result.signatures
    assert sig.valid  # optimistic: reported, not rejected
    assert [(r.element, r.status) for r in sig.references] == [
        (JC + "subject", ReferenceStatus.OK),
        (JC + "body", ReferenceStatus.DIGEST_MISMATCH),
        ("", ReferenceStatus.TARGET_MISSING),
        ("", ReferenceStatus.AMBIGUOUS),
    ]
    assert [c.tag for c in result.signed_children()] == [JC + "subject"]
    assert result.unsigned_children == (
        "{urn:example:ext}x",
        JC + "body",
        "{urn:example:ext}x",
    )
    uris = [r.uri for r in sig.references]
    assert all(u.startswith("urn:xmpp:dsig:ref:0#") for u in uris)


def test_reference_statuses_strict_raises_first() -> None:
    assert_rejected(verifier(), _four_statuses(), DigestMismatch)


def test_signed_children_are_copies() -> None:
    root = tree(sign())
    result = verifier().verify(root, now=NOW)
    first = result.signed_children()
    assert [c.text for c in first] == [
        "8996aef0-061d-012d-347a-549a200771aa",
        "Wherefore art thou, Romeo?",
    ]
    first[1].text = "changed"
    first[1].set("evil", "1")
    second = result.signed_children()
    assert second[1].text == "Wherefore art thou, Romeo?"
    assert second[1].get("evil") is None
    assert child(root, "body").text == "Wherefore art thou, Romeo?"
    assert all(c is not o for c, o in zip(second, list(root), strict=False))
    # the stanza given to verify() is not changed either, and still verifies
    assert_valid(verifier(), xml(root))


def test_signed_children_empty_when_invalid() -> None:
    data = sign().replace(b"Romeo?", b"Paris?")
    result = verifier().check(data, now=NOW)
    assert not result.valid
    assert result.signed_children() == ()
    # optimistic and valid: only the verified child
    ok = verifier(policy=OPTIMISTIC).check(data, now=NOW)
    assert ok.valid
    assert [c.tag for c in ok.signed_children()] == [JC + "thread"]


def test_result_is_frozen() -> None:
    result = verifier().verify(sign(), now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.valid = False  # type: ignore[misc]  # the point of the test
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.signatures[0].signer = ROMEO  # type: ignore[misc]  # the point of the test


ANNOTATIONS = (
    b"<delay xmlns='urn:xmpp:delay' from='capulet.net' stamp='2026-06-01T12:00:01Z'/>"
    b"<stanza-id xmlns='urn:xmpp:sid:0' by='romeo@montague.net' id='28482-98726-73623'/>"
    b"<archived xmlns='urn:xmpp:mam:tmp' by='romeo@montague.net' id='1'/>"
)


def test_server_annotations_are_unsigned_but_allowed() -> None:
    data = sign().replace(b"</message>", ANNOTATIONS + b"</message>")
    result = assert_valid(verifier(), data)
    assert result.unsigned_children == (
        "{urn:xmpp:delay}delay",
        "{urn:xmpp:sid:0}stanza-id",
        "{urn:xmpp:mam:tmp}archived",
    )
    assert [c.tag for c in result.signed_children()] == [JC + "thread", JC + "body"]
    # a policy that allows nothing unsigned rejects them
    strictest = dataclasses.replace(Policy(), allowed_unsigned=frozenset())
    assert_rejected(verifier(policy=strictest), data, UnsignedContent)


def test_several_signatures_reported_one_by_one() -> None:
    both = make_signer(CAPULET).sign(sign())
    result = assert_valid(verifier(JULIET, CAPULET), both)
    assert [(s.signer, s.valid, s.error) for s in result.signatures] == [
        (JULIET, True, None),
        (CAPULET, True, None),
    ]
    j = result.to_json()
    assert [s["signer"] for s in j["signatures"]] == [JULIET, CAPULET]
    assert [len(s["references"]) for s in j["signatures"]] == [2, 3]


# -- offline messages (XEP-0290 §5, XEP-0203) -------------------------------------------------

LATER = NOW + dt.timedelta(hours=2)


def _with_delay(data: bytes, by: str, stamp: dt.datetime) -> bytes:
    root = tree(data)
    delay = etree.SubElement(root, "{urn:xmpp:delay}delay")
    delay.set("from", by)
    delay.set("stamp", stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    return xml(root)


def test_offline_delay_from_own_server() -> None:
    data = _with_delay(sign(), "montague.net", NOW + dt.timedelta(minutes=1))
    v = verifier(policy=Policy(own_server="montague.net"))
    result = assert_valid(v, data, now=LATER)
    [sig] = result.signatures
    assert sig.offline is True
    assert sig.timestamp_status is TimestampStatus.OK
    assert result.unsigned_children == ("{urn:xmpp:delay}delay",)
    # without the own-server policy the same stanza is two hours old
    err = assert_rejected(verifier(), data, TimestampError, now=LATER)
    assert isinstance(err, TimestampError) and err.kind == "old"


@pytest.mark.parametrize(
    ("by", "stamp_offset", "kind"),
    [
        ("capulet.net", dt.timedelta(minutes=1), "old"),  # another domain's delay
        ("romeo@montague.net", dt.timedelta(minutes=1), "old"),  # a user, not the server
        ("montague.net", dt.timedelta(minutes=6), "old"),  # stamped too long after signing
        ("montague.net", -dt.timedelta(minutes=6), "future"),  # stamped before it was signed
        ("montague.net", dt.timedelta(hours=3), "future"),  # stamp later than now
    ],
)
def test_offline_delay_that_does_not_count(by: str, stamp_offset: dt.timedelta, kind: str) -> None:
    data = _with_delay(sign(), by, NOW + stamp_offset)
    v = verifier(policy=Policy(own_server="montague.net"))
    err = assert_rejected(v, data, TimestampError, now=LATER)
    assert isinstance(err, TimestampError) and err.kind == kind


# -- trust ------------------------------------------------------------------------------------


def test_trust_via_ca_bundle(dsig_ca: CA) -> None:
    key = identity(JULIET).private_key
    cert = issue(dsig_ca, key, xmpp=[utf8_addr(JULIET)])
    data = Signer(
        key,
        signer=JULIET,
        certificate=cert,
        include_certificate=True,
        clock=new_clock(),
        profile=SPEC,
    ).sign(MESSAGE)
    v = verifier(trust=TrustStore().with_ca_bundle([dsig_ca.cert]))
    result = assert_valid(v, data)
    assert result.signatures[0].certificate == cert
    # the same stanza without KeyInfo: nothing to chain, nothing pinned
    no_keyinfo = tree(data)
    sig = signature(no_keyinfo)
    ki = sig.find(DS + "KeyInfo")
    assert ki is not None
    sig.remove(ki)  # KeyInfo is outside SignedInfo: removing it keeps the signature intact
    assert_rejected(v, xml(no_keyinfo), UntrustedKey)
    # another CA's bundle does not vouch for it
    assert_rejected(
        verifier(trust=TrustStore().with_ca_bundle([make_ca("other").cert])), data, UntrustedKey
    )


def test_trust_via_pin_and_fingerprint() -> None:
    data = sign()
    cert = identity(JULIET).certificate
    assert_valid(verifier(trust=TrustStore().pin(JULIET, cert)), data)
    # a fingerprint pin needs the certificate from somewhere: KeyInfo here
    fp = certificate_fingerprint(cert)
    with_cert = sign(include_certificate=True)
    assert_valid(verifier(trust=TrustStore().pin_fingerprint(JULIET, fp)), with_cert)
    assert_rejected(verifier(trust=TrustStore().pin_fingerprint(JULIET, fp)), data, UntrustedKey)
    # a pin for another JID does not help
    assert_rejected(
        verifier(trust=TrustStore().pin(ROMEO, identity(ROMEO).certificate)), data, UntrustedKey
    )


def test_key_resolver_hook() -> None:
    cert = identity(JULIET).certificate
    asked: list[str] = []

    def resolve(jid: str) -> list[x509.Certificate]:
        asked.append(jid)
        return [cert] if jid == JULIET else []

    v = verifier(trust=TrustStore().with_resolver(resolve))
    assert_valid(v, sign())
    assert asked and set(asked) == {JULIET}
    # the resolver knows nobody else
    romeo = make_signer(ROMEO).sign(
        b"<message xmlns='jabber:client' from='romeo@montague.net/orchard' to='juliet@capulet.net'>"
        b"<body>It is my lady</body></message>"
    )
    assert_rejected(v, romeo, UntrustedKey)

    def broken(jid: str) -> list[x509.Certificate]:
        raise RuntimeError("directory down")

    assert_rejected(verifier(trust=TrustStore().with_resolver(broken)), sign(), UntrustedKey)


# -- JSON -------------------------------------------------------------------------------------


def test_json_shape_valid() -> None:
    result = verifier().verify(sign(), now=NOW)
    j = json.loads(result.to_json_text())
    assert j == result.to_json()
    assert {"valid", "signatures", "unsigned_children"} <= set(j)
    assert j["valid"] is True
    assert j["unsigned_children"] == []
    [s] = j["signatures"]
    assert {"signer", "timestamp", "valid", "error", "references"} <= set(s)
    assert s["signer"] == JULIET
    assert s["timestamp"] == "2026-06-01T12:00:00.000Z"
    assert s["valid"] is True and s["error"] is None
    assert [set(r) for r in s["references"]] == [{"uri", "element", "status"}] * 2
    assert [r["element"] for r in s["references"]] == [JC + "thread", JC + "body"]
    assert [r["status"] for r in s["references"]] == ["ok", "ok"]


def test_json_shape_rejected() -> None:
    result = verifier(policy=OPTIMISTIC).check(_four_statuses(), now=NOW)
    j = json.loads(result.to_json_text())
    assert j["valid"] is True
    assert [r["status"] for r in j["signatures"][0]["references"]] == [
        "ok",
        "digest-mismatch",
        "target-missing",
        "ambiguous",
    ]
    bad = json.loads(verifier().check(sign().replace(b"Romeo?", b"Paris?"), now=NOW).to_json_text())
    assert bad["valid"] is False
    assert bad["signatures"][0]["valid"] is False
    assert bad["signatures"][0]["error"].startswith("DigestMismatch")
    unsigned = json.loads(verifier().check(MESSAGE, now=NOW).to_json_text())
    assert unsigned["valid"] is False and unsigned["signatures"] == []
    assert unsigned["error"].startswith("NotSigned")


@pytest.mark.parametrize(
    "data",
    [b"", b"<", b"\xff\xfe<message/>", b"<message xmlns='jabber:client'>", b"not xml at all"],
)
def test_check_never_raises_on_garbage(data: bytes) -> None:
    result = verifier().check(data, now=NOW)
    assert isinstance(result, VerificationResult)
    assert not result.valid
    assert isinstance(result.error, XmppSecError)
    with pytest.raises(RestrictedXMLError):
        verifier().verify(data, now=NOW)


def test_default_clock_is_used_without_now() -> None:
    """Verifier(clock=...) judges timestamps when no now= is passed."""
    data = sign()
    assert verifier().check(data).valid  # conftest's verifier clock is NOW
    later = dataclasses.replace(verifier(), clock=lambda: NOW + dt.timedelta(minutes=10))
    result = later.check(data)
    assert type(result.error) is TimestampError


def _with_comment_in_body(data: bytes) -> etree._Element:
    """A caller's own lxml tree (not from xmppsec.parser): a comment splits the body text,
    so C14N (without comments) still sees the signed text while el.text is truncated."""
    root = etree.fromstring(data)
    body = root.find(JC + "body")
    assert body is not None
    body.text = "pay alice"
    comment = etree.Comment(" ")
    comment.tail = "; and mallory"
    body.append(comment)
    return root


def test_element_input_gets_the_parser_checks() -> None:
    """Security case 4 through the element API: a tree built elsewhere is checked like
    parsed bytes (RFC 6120 §11.1 node types, limits) before anything else."""
    signed = sign(MESSAGE.replace(b"Wherefore art thou, Romeo?", b"pay alice; and mallory"))
    assert_valid(verifier(), tree(signed))  # the element API itself works
    root = _with_comment_in_body(signed)
    assert_rejected(verifier(), root, RestrictedXMLError)
    assert_rejected(verifier(policy=OPTIMISTIC), root, RestrictedXMLError)
    pi = etree.fromstring(signed)
    pi.insert(0, etree.ProcessingInstruction("evil", "x"))
    assert_rejected(verifier(), pi, RestrictedXMLError)
    deep = etree.fromstring(signed)
    node = etree.SubElement(deep, "{urn:example:ext}x")
    for _ in range(100):
        node = etree.SubElement(node, "{urn:example:ext}x")
    assert_rejected(verifier(), deep, LimitExceeded)


@pytest.mark.parametrize(("live_type", "ok"), [(None, True), ("normal", True), ("chat", False)])
def test_copy_without_default_type(live_type: str | None, ok: bool) -> None:
    """A signer that did not add the default type (another implementation) describes a
    message of type normal (RFC 6121 §5.2.2): the same default applies on both sides."""
    root = tree(sign())
    del desc_copy(signature(root)).attrib["type"]
    if live_type is None:
        del root.attrib["type"]
    else:
        root.set("type", live_type)
    resign(root, identity(JULIET).private_key)
    if ok:
        assert_valid(verifier(), xml(root))
    else:
        assert_rejected(verifier(), xml(root), StanzaMismatch)


def test_a_stanza_inside_a_stream_tree_is_verified_as_a_document_of_its_own() -> None:
    """Decision (docs/decisions/dsig.md): the stream's declarations and xml:lang stay out."""
    signed = sign()
    stream = etree.fromstring(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        b"xml:lang='en'>" + signed + b"</stream:stream>"
    )
    stanza = stream[0]
    assert stanza.tag == "{jabber:client}message"
    assert_valid(verifier(), stanza)
    assert stanza.getparent() is stream  # the caller's tree is untouched


def test_signer_refuses_a_stanza_inside_a_tree() -> None:
    stream = etree.fromstring(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        + MESSAGE
        + b"</stream:stream>"
    )
    with pytest.raises(StanzaSchemaError):
        make_signer().sign_element(stream[0])


# -- the one structure phase: every layout we write, indented or not; every deviation refused --

_LAYOUTS = {
    "message": MESSAGE,
    "four-children": FOUR,
    "presence": b"<presence xmlns='jabber:client' from='juliet@capulet.net/a'><show>away</show>"
    b"</presence>",
    "no-children": b"<presence xmlns='jabber:client' from='juliet@capulet.net/a'/>",
}


@pytest.mark.parametrize("profile", [SPEC, ROBUST])
@pytest.mark.parametrize("case", sorted(_LAYOUTS))
@pytest.mark.parametrize("indent", [False, True])
def test_structure_phase_reads_every_layout_we_write(
    profile: Profile, case: str, indent: bool
) -> None:
    root = tree(make_signer(profile=profile).sign(_LAYOUTS[case]))
    if indent:
        etree.indent(root)  # whitespace between the parts of the Signature is allowed
    v = verifier()
    sig = root.find(".//" + DS + "Signature")
    assert sig is not None
    parsed = v._parse(sig)
    assert parsed.profile is profile
    assert len(parsed.references) == len(tree(_LAYOUTS[case]))


def _first_signature(root: etree._Element) -> etree._Element:
    sig = root.find(DS + "Signature")
    assert sig is not None
    return sig


def test_structure_phase_refuses_deviations() -> None:
    v = verifier()
    with_cert = tree(make_signer(include_certificate=True).sign(MESSAGE))
    assert len(v._parse(_first_signature(with_cert)).certificates) == 1
    assert_valid(v, with_cert)
    # Text inside a container, an extra element, a second Transform, another id: refused.
    for mutate in (
        lambda s: setattr(s[0], "text", "x"),
        lambda s: setattr(s[0][0], "tail", "x"),
        lambda s: s[0].append(etree.Element(DS + "Extra")),
        lambda s: s[0][2][0].append(etree.Element(DS + "Transform", Algorithm="x")),
        lambda s: s[2][0][3].append(etree.Element(DS + "Extra")),
        lambda s: s[2][0].set("id", "other"),
    ):
        root = tree(sign())
        sig = _first_signature(root)
        mutate(sig)
        with pytest.raises(XmppSecError):
            v._parse(sig)


# -- profiles are objects: caches and reports keyed by the Profile, not its name -------------


@pytest.mark.parametrize("name", ["mine", "spec", "robust"])
@pytest.mark.parametrize("base", [SPEC, ROBUST], ids=["spec-rules", "robust-rules"])
def test_user_built_profile_verifies_and_check_never_raises(base: Profile, name: str) -> None:
    # The Profile class is public: a caller may build one (here a copy of a built-in under
    # another, or a colliding, name). check() must never raise for it (it raised KeyError
    # when results looked the profile up by name), and nothing cached for one profile may
    # serve another that shares its name.
    mine = dataclasses.replace(base, name=name)
    data = make_signer(profile=mine).sign(FOUR)
    v = Verifier(pins(JULIET), profile=mine, clock=lambda: NOW)
    result = v.check(data)
    assert result.valid, result.error
    assert result.profile is mine
    assert result.signatures[0].profile == name
    # The same bytes under the built-in profile of the other rules: refused, typed.
    other = ROBUST if base is SPEC else SPEC
    refused = Verifier(pins(JULIET), profile=other, clock=lambda: NOW).check(data)
    assert not refused.valid and isinstance(refused.error, XmppSecError)


@pytest.mark.parametrize("profile", [SPEC, ROBUST])
def test_auto_detected_profile_is_reported(profile: Profile) -> None:
    # With no profile configured the verifier detects it from the signature; the result
    # names the detected one (it said SPEC for every stanza before).
    result = verifier().verify(make_signer(profile=profile).sign(MESSAGE), now=NOW)
    assert result.profile is profile
    assert result.signatures[0].profile == profile.name


def test_signer_takes_a_profile_name() -> None:
    by_name = make_signer(profile="robust")
    assert by_name.profile is ROBUST
    assert verifier().verify(by_name.sign(MESSAGE), now=NOW).profile is ROBUST
    with pytest.raises(UsageError):
        make_signer(profile="fancy")
    with pytest.raises(UsageError):
        make_signer(profile=3)


def test_reference_result_builder_is_the_constructor() -> None:
    # The verifier's per-reference builder sets the slots directly: it must build exactly
    # what the dataclass constructor builds, for exactly these fields, with no __post_init__
    # to skip (a new field or hook fails here rather than being left unset).
    import dataclasses

    from xmppsec.dsig._result import ReferenceResult, ReferenceStatus, reference_result

    assert [f.name for f in dataclasses.fields(ReferenceResult)] == ["uri", "element", "status"]
    assert not hasattr(ReferenceResult, "__post_init__")
    for status in ReferenceStatus:
        built = reference_result("urn:xmpp:dsig:ref:0#a", "{jabber:client}body", status)
        made = ReferenceResult("urn:xmpp:dsig:ref:0#a", "{jabber:client}body", status)
        assert type(built) is ReferenceResult
        assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
        assert dataclasses.astuple(built) == dataclasses.astuple(made)
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.uri = "x"  # type: ignore[misc]


def test_result_builders_are_the_constructors() -> None:
    # signature_result / verification_result set the slots directly: each takes exactly the
    # dataclass's fields, the dataclass has no __post_init__ to skip, and the built object
    # equals the constructor's in every field (compare=False ones included).
    import dataclasses
    import inspect

    from xmppsec.dsig._result import (
        SignatureResult,
        VerificationResult,
        signature_result,
        verification_result,
    )

    for cls, builder in (
        (SignatureResult, signature_result),
        (VerificationResult, verification_result),
    ):
        names = [f.name for f in dataclasses.fields(cls)]
        assert list(inspect.signature(builder).parameters) == names
        assert not hasattr(cls, "__post_init__")
    el = etree.Element("{http://www.w3.org/2000/09/xmldsig#}Signature")
    sr_args: dict[str, object] = {
        "valid": True, "signer": "juliet@capulet.net", "timestamp": NOW,
        "timestamp_text": "2024-01-01T00:00:00.000Z", "timestamp_status": TimestampStatus.OK,
        "profile": "spec", "signature_method": "m", "references": (), "error": None,
        "certificate": None, "offline": True, "sender_relation": "sender",
        "signature_element": el,
    }  # fmt: skip
    built = signature_result(**sr_args)  # type: ignore[arg-type]
    made = SignatureResult(**sr_args)  # type: ignore[arg-type]
    assert type(built) is SignatureResult and built == made and repr(built) == repr(made)
    for f in dataclasses.fields(SignatureResult):
        assert getattr(built, f.name) is getattr(made, f.name)
    vr_args: dict[str, object] = {
        "valid": True, "signatures": (made,), "unsigned_children": ("{x}y",), "error": None,
        "stanza_name": "message", "stanza_attributes": (("to", "a@b"),), "profile": None,
        "stanza_namespace": "jabber:client", "_signed": ((el, ("juliet@capulet.net",)),),
    }  # fmt: skip
    vbuilt = verification_result(**vr_args)  # type: ignore[arg-type]
    vmade = VerificationResult(**vr_args)  # type: ignore[arg-type]
    assert type(vbuilt) is VerificationResult and vbuilt == vmade
    for f in dataclasses.fields(VerificationResult):
        assert getattr(vbuilt, f.name) is getattr(vmade, f.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        vbuilt.valid = False  # type: ignore[misc]
