"""Attacks on signatures that earlier held as "valid" (issue "Signatures under attack"), each
reproduced as the attacker runs it: unsigned text returned as signed content, a replay
resurrected by an added delay, and two signers under one MUC occupant JID."""

from __future__ import annotations

import base64
import datetime as dt
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec.algorithms import DigestMethod, default_signature_method, digest, sign_bytes
from xmppsec.dsig import ROBUST, SPEC, Policy, Profile, Verifier
from xmppsec.dsig._c14n import c14n
from xmppsec.errors import ReplayError, SignerMismatch, TimestampError, UnsignedContent
from xmppsec.replay import MemoryReplayStore

if TYPE_CHECKING:
    from tests.conftest import (
        DS,
        JULIET,
        MALLORY,
        MESSAGE,
        NOW,
        assert_rejected,
        assert_valid,
        identity,
        make_signer,
        new_clock,
        pins,
        xml,
    )
else:
    from conftest import (
        DS,
        JULIET,
        MALLORY,
        MESSAGE,
        NOW,
        assert_rejected,
        assert_valid,
        identity,
        make_signer,
        new_clock,
        pins,
        xml,
    )

NOON = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net'"
    b" type='chat' id='n1'><body>Meet me at noon</body><thread>t1</thread></message>"
)
INSERTED = " -- CANCELLED, meet at midnight"


def _verifier(policy: Policy | None = None, **kwargs: object) -> Verifier:
    return Verifier(
        pins(JULIET, MALLORY),
        policy=policy or Policy(),
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


# -- 1. only signed content reaches the caller -------------------------------------------------


def _inject(data: bytes, where: str) -> etree._Element:
    root = etree.fromstring(data)
    if where == "before":
        root.text = INSERTED
    elif where == "between":
        root[0].tail = INSERTED  # after </body>: returned as the body's tail before the fix
    else:
        root[-1].tail = INSERTED  # after the Signature
    return root


@pytest.mark.parametrize("where", ["before", "between", "after"])
@pytest.mark.parametrize("profile", [SPEC, ROBUST])
def test_text_slipped_into_a_signed_stanza_is_refused(profile: Profile, where: str) -> None:
    signed = make_signer(profile=profile).sign(NOON)
    assert_valid(_verifier(), signed)
    forged = xml(_inject(signed, where))
    assert_rejected(_verifier(), forged, UnsignedContent)


@pytest.mark.parametrize("where", ["before", "between", "after"])
@pytest.mark.parametrize("profile", [SPEC, ROBUST])
def test_no_policy_returns_text_that_was_not_signed(profile: Profile, where: str) -> None:
    signed = make_signer(profile=profile).sign(NOON)
    result = _verifier(Policy.optimistic()).verify(xml(_inject(signed, where)))
    assert result.valid  # optimistic: reported, not refused ...
    body = result.signed_children()[0]
    assert body.text == "Meet me at noon"
    assert body.tail is None  # ... but the inserted text never comes back as signed
    returned = b"".join(etree.tostring(c) for c in result.signed_children())
    assert INSERTED.encode() not in returned


def test_whitespace_between_children_is_not_content() -> None:
    signed = make_signer(profile=ROBUST).sign(NOON)
    root = etree.fromstring(signed)
    root.text, root[0].tail = "\n  ", "\n  "
    assert_valid(_verifier(), xml(root))


# -- 2. offline delivery cannot resurrect a replay ---------------------------------------------


def _with_delays(data: bytes, *delays: tuple[str, dt.datetime]) -> bytes:
    root = etree.fromstring(data)
    for by, stamp in delays:
        delay = etree.SubElement(root, "{urn:xmpp:delay}delay")
        delay.set("from", by)
        delay.set("stamp", stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    return xml(root)


OWN = Policy(own_server="montague.net")


def test_a_delay_added_later_does_not_resurrect_a_replay() -> None:
    v = _verifier(OWN, replay=MemoryReplayStore())  # check(): the store records each pass

    def error(data: bytes, now: dt.datetime) -> object:
        return type(v.check(data, now=now).error)

    signed = make_signer().sign(MESSAGE)
    assert v.check(signed, now=NOW).valid
    assert error(signed, NOW + dt.timedelta(minutes=1)) is ReplayError
    # An hour later the 5-minute window is long gone; the attacker adds the own server's
    # delay with the original time. Before the fix the store had forgotten the signature.
    resent = _with_delays(signed, ("montague.net", NOW + dt.timedelta(seconds=1)))
    assert error(resent, NOW + dt.timedelta(hours=1)) is ReplayError
    assert error(resent, NOW + dt.timedelta(days=29)) is ReplayError  # and still 29 days on
    # Without the own-server policy no delay is honoured, and the window is the usual one.
    plain = _verifier(replay=MemoryReplayStore())
    assert plain.check(signed, now=NOW).valid


def test_offline_age_is_enforced() -> None:
    signed = make_signer().sign(MESSAGE)
    delayed = _with_delays(signed, ("montague.net", NOW + dt.timedelta(seconds=1)))
    assert_valid(_verifier(OWN), delayed, now=NOW + dt.timedelta(days=29))
    err = assert_rejected(_verifier(OWN), delayed, TimestampError, now=NOW + dt.timedelta(days=31))
    assert isinstance(err, TimestampError) and err.kind == "old"
    shorter = Policy(own_server="montague.net", max_offline_age=dt.timedelta(hours=1))
    assert_rejected(_verifier(shorter), delayed, TimestampError, now=NOW + dt.timedelta(hours=2))


@pytest.mark.parametrize(
    "delays",
    [
        (("capulet.net", 1), ("montague.net", 2)),  # two servers: the first no longer wins
        (("montague.net", 1), ("montague.net", 2)),  # the own server twice
        (("montague.net", 1), ("capulet.net", 2)),
    ],
    ids=["other-then-own", "own-twice", "own-then-other"],
)
def test_more_than_one_delay_is_refused(delays: tuple[tuple[str, int], ...]) -> None:
    signed = make_signer().sign(MESSAGE)
    data = _with_delays(signed, *((by, NOW + dt.timedelta(seconds=s)) for by, s in delays))
    err = assert_rejected(_verifier(OWN), data, TimestampError, now=NOW + dt.timedelta(hours=1))
    assert isinstance(err, TimestampError) and err.kind == "format"


def test_a_delay_earlier_than_the_signature_is_refused() -> None:
    signed = make_signer().sign(MESSAGE)  # signed at NOW
    data = _with_delays(signed, ("montague.net", NOW - dt.timedelta(seconds=1)))
    assert_rejected(_verifier(OWN), data, TimestampError, now=NOW + dt.timedelta(hours=1))


# -- 4. group chat attribution -----------------------------------------------------------------

ROOM = "sigroom@muc.example"


def _groupchat(body: bytes, lang: str) -> bytes:
    return (
        b"<message xmlns='jabber:client' to='" + ROOM.encode() + b"' type='groupchat' id='g1'>"
        b"<body xml:lang='" + lang.encode() + b"'>" + body + b"</body></message>"
    )


def _two_signers_one_nick() -> bytes:
    """Juliet's signed groupchat body and Mallory's, merged by the attacker into one
    reflection from Juliet's occupant JID (each signature covers its own body)."""
    juliet = etree.fromstring(make_signer(JULIET, profile=ROBUST).sign(_groupchat(b"noon", "en")))
    mallory = etree.fromstring(
        make_signer(MALLORY, profile=ROBUST).sign(_groupchat(b"CANCELLED", "fr"))
    )
    juliet.insert(1, mallory[0])  # Mallory's body after Juliet's, before her Signature
    juliet.append(mallory[-1])  # and Mallory's Signature
    juliet.set("from", ROOM + "/juliet")
    juliet.set("to", "romeo@montague.net/orchard")
    return xml(juliet)


def test_two_signers_under_one_occupant_are_refused_by_strict() -> None:
    data = _two_signers_one_nick()
    assert_rejected(_verifier(), data, SignerMismatch)


def test_each_signed_child_names_its_signer() -> None:
    result = _verifier(Policy.optimistic()).verify(_two_signers_one_nick())
    assert result.signers == (JULIET, MALLORY)
    by_child = {c.element.text: c.signers for c in result.signed()}
    assert by_child == {"noon": (JULIET,), "CANCELLED": (MALLORY,)}
    assert [c.text for c in result.signed_children(signer=JULIET)] == ["noon"]
    assert [c.text for c in result.signed_children(signer=MALLORY)] == ["CANCELLED"]
    assert result.to_json()["signed_children"] == [
        {"element": "{jabber:client}body", "signers": [JULIET]},
        {"element": "{jabber:client}body", "signers": [MALLORY]},
    ]


def _robust_resign(root: etree._Element, jid: str) -> None:
    """Attacker helper (robust profile): after editing stanza-desc, digest it again and sign
    SignedInfo with ``jid``'s own key, as a signer that skips its checks would."""
    sig = root.find(DS + "Signature")
    assert sig is not None
    si, desc = sig[0], sig[-1][0]
    si[2][2].text = base64.b64encode(
        digest(DigestMethod.SHA256, c14n(desc, ROBUST.desc_transform))
    ).decode()
    key = identity(jid).private_key
    value = sign_bytes(key, default_signature_method(key), c14n(si, ROBUST.signed_info_c14n))
    sig[1].text = base64.b64encode(value).decode()


def test_reflection_whose_signed_original_names_another_sender() -> None:
    # Mallory signs a groupchat message whose signed copy claims Juliet sent it; the room
    # reflects it from an occupant JID. The signer is not the original's sender: refused.
    root = etree.fromstring(make_signer(MALLORY, profile=ROBUST).sign(_groupchat(b"noon", "en")))
    root.set("from", ROOM + "/juliet")
    assert_valid(_verifier(), xml(root))  # Mallory's own message, reflected: fine
    sig = root.find(DS + "Signature")
    assert sig is not None
    sig[-1][0][3].set("from", "juliet@capulet.net/balcony")
    _robust_resign(root, MALLORY)
    assert_rejected(_verifier(), xml(root), SignerMismatch)
    # Juliet's own original naming her: accepted.
    mine = _groupchat(b"noon", "en").replace(b"<message ", b"<message from='juliet@capulet.net/b' ")
    ok = etree.fromstring(make_signer(JULIET, profile=ROBUST).sign(mine))
    ok.set("from", ROOM + "/juliet")
    assert_valid(_verifier(), xml(ok))


def test_a_whole_second_stamp_covers_its_second() -> None:
    # Prosody stamps delays to the second (XEP-0082 allows it): a message signed at
    # 12:00:00.500 and stored at "12:00:00Z" is not "signed after its delay".
    signed = make_signer(clock=new_clock(NOW + dt.timedelta(milliseconds=500))).sign(MESSAGE)
    data = _with_delays(signed, ("montague.net", NOW))
    assert_valid(_verifier(OWN), data, now=NOW + dt.timedelta(hours=1))
