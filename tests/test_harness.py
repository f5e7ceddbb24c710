"""The real-server harness: stream splitter, server start/stop, and every routing case.

The integration tests reproduce what was measured on Debian 12's Prosody 0.12.3 and
ejabberd 23.01 (docs/servers.md): Prosody re-prefixes ``d:id`` as ``ns1:id`` and adds
``xml:lang``; ejabberd drops foreign attributes from ``<body>`` and moves it to the end;
Prosody refuses an iq with two children with ``bad-request``; ejabberd delivers it.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from tests.harness import cases
from tests.harness.cases import Refused, Routed
from tests.harness.client import Received, connect
from tests.harness.fixtures import unavailable
from tests.harness.servers import Server, ServerUnavailable, start_ejabberd, start_prosody
from tests.harness.stream import StreamProtocolError, StreamSplitter, element_spans, with_scope

DSIG = "urn:xmpp:dsig:0"
D = f"xmlns:d='{DSIG}'"
HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' from='localhost' version='1.0'>"
)


# -- stream splitter (no server needed) ---------------------------------------------------------
STANZAS = [
    b"<message a='x>y' b=\"it's\"><body>1 &gt; 0 &amp; <![CDATA[<not a tag>]]></body></message>",
    b"<presence/>",
    b"<iq type='result' id='1'><q xmlns='u:q'><!-- c --><e/><e2 k='/'/></q></iq>",
    b"<x:m xmlns:x='u:x'>caf\xc3\xa9 \xf0\x9f\x8e\x89</x:m>",
]


def _feed(chunks: list[bytes]) -> list[tuple[str, bytes]]:
    splitter = StreamSplitter()
    events: list[tuple[str, bytes]] = []
    for chunk in chunks:
        events += [(e.kind, e.raw) for e in splitter.feed(chunk)]
    return events


def test_splitter_returns_exact_bytes_whatever_the_chunking() -> None:
    wire = HEADER + b" \n" + b"\n ".join(STANZAS) + b" </stream:stream>"
    expected = [("header", HEADER[HEADER.index(b"<stream") :])]
    expected += [("element", s) for s in STANZAS] + [("close", b"</stream:stream>")]
    assert _feed([wire]) == expected
    assert _feed([wire[i : i + 1] for i in range(len(wire))]) == expected
    assert _feed([wire[i : i + 7] for i in range(0, len(wire), 7)]) == expected


def test_splitter_restart_and_refusals() -> None:
    splitter = StreamSplitter()
    splitter.feed(HEADER + b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    splitter.restart()
    assert [e.kind for e in splitter.feed(HEADER + b"<a/>")] == ["header", "element"]
    with pytest.raises(StreamProtocolError):
        StreamSplitter().feed(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>")
    with pytest.raises(StreamProtocolError):
        StreamSplitter().feed(HEADER + b"</a></b>")


def test_element_spans_map_parsed_elements_to_their_bytes() -> None:
    raw = STANZAS[2]
    header = HEADER[HEADER.index(b"<stream") :]
    item = Received(raw, header, etree.fromstring(header + raw + b"</stream:stream>")[0])
    spans = element_spans(raw)
    assert [raw[s:e] for s, e in spans][2:] == [b"<e/>", b"<e2 k='/'/>"]
    q = item.element[0]
    assert item.raw_of(q) == b"<q xmlns='u:q'><!-- c --><e/><e2 k='/'/></q>"
    assert item.raw_of(item.element) == raw
    assert item.document().endswith(b"</stream:stream>")


def test_with_scope_splices_only_missing_declarations() -> None:
    scope: dict[str | None, str] = {
        None: "jabber:client",
        "stream": "http://etherx.jabber.org/streams",
    }
    raw = b"<message to='a&apos;>' xmlns:x='u:x'><x:y/></message>"
    out = with_scope(raw, {**scope, "x": "u:other"})
    assert out == (
        b"<message xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
        b" to='a&apos;>' xmlns:x='u:x'><x:y/></message>"
    )
    assert etree.QName(etree.fromstring(out)[0]).namespace == "u:x"
    declared = b"<message xmlns='jabber:client'/>"
    assert with_scope(declared, {None: "jabber:other"}) == declared


def _assert_standalone_matches(routed: Routed) -> None:
    """The standalone bytes parse to the same element the client saw in context."""
    alone = etree.fromstring(routed.standalone())
    assert etree.QName(alone).namespace == "jabber:client"
    assert etree.tostring(alone, method="c14n", exclusive=True) == etree.tostring(
        routed.element, method="c14n", exclusive=True
    )


def test_missing_server_skips_locally_and_fails_under_ci() -> None:
    with pytest.raises(pytest.skip.Exception):
        unavailable("prosody is not installed", {})
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        unavailable("prosody is not installed", {"CI": "true"})


# -- servers ------------------------------------------------------------------------------------
STARTERS: dict[str, Callable[[Path], Server]] = {
    "prosody": start_prosody,
    "ejabberd": start_ejabberd,
}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(STARTERS))
def test_server_starts_on_loopback_and_stops_without_leftovers(name: str, tmp_path: Path) -> None:
    try:
        server = STARTERS[name](tmp_path / name)
    except ServerUnavailable as exc:
        unavailable(str(exc))
        return
    try:
        assert server.pids(), "the server's processes carry the marker"
        assert server.host == "127.0.0.1"
        with socket.create_connection((server.host, server.port), timeout=2):
            pass
        # bound to loopback only: the port is not served on another local address
        with pytest.raises(OSError), socket.create_connection(("127.0.0.2", server.port), 1):
            pass
    finally:
        server.stop()
    assert server.leftovers() == []
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()
    print(f"{name}: started in {server.started_in:.2f}s, stopped in {server.stopped_in:.2f}s")


# -- cases --------------------------------------------------------------------------------------
def _attrs_of(element: etree._Element, localname: str) -> dict[str, str]:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == localname:
            return {str(k): str(v) for k, v in child.attrib.items()}
    raise AssertionError(f"no <{localname}> in {etree.tostring(element)!r}")


def _child_names(routed: Routed) -> list[str]:
    return [etree.QName(c).localname for c in routed.element if isinstance(c.tag, str)]


def _check_dsig_id(server: Server, routed: Routed, child: str, value: str) -> None:
    """The measured per-server treatment of ``d:id`` on a core child such as <body>."""
    element = next(
        c for c in routed.element if isinstance(c.tag, str) and etree.QName(c).localname == child
    )
    raw = routed.stanza.raw_of(element)
    if server.name == "prosody":
        assert element.get(f"{{{DSIG}}}id") == value
        assert raw.startswith(f"<{child} xmlns:ns1='{DSIG}' ns1:id='{value}'".encode())
    else:
        assert element.get(f"{{{DSIG}}}id") is None  # ejabberd rebuilds known children
        assert raw.startswith(f"<{child}>".encode())


def _xml_lang_added(routed: Routed) -> None:
    assert routed.element.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert b"xml:lang" not in routed.sent


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_chat_message(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    mark = f" {D} d:id='b1'" if marked else ""
    sent = (
        f"<message from='{s.full_jid('alice')}' to='{s.full_jid('bob')}' type='chat' "
        f"id='chat-{int(marked)}'><body{mark}>hello</body>"
        f"<x xmlns='urn:example:x'{mark.replace('b1', 'x1')}>payload</x></message>"
    )
    r = cases.route_chat(s, sent)
    _assert_standalone_matches(r)
    assert r.element.get("from") == s.full_jid("alice")
    assert r.element.findtext("{jabber:client}body") == "hello"
    _xml_lang_added(r)
    assert "stanza-id" in _child_names(r)
    if marked:
        _check_dsig_id(s, r, "body", "b1")
        # an unknown element keeps d:id on both servers (re-prefixed by Prosody)
        assert _attrs_of(r.element, "x").get(f"{{{DSIG}}}id") == "x1"
    if s.name == "ejabberd":
        assert _child_names(r)[-1] == "body"  # moved after <x>
        assert _child_names(r)[:2] == ["archived", "stanza-id"]
    else:
        assert _child_names(r) == ["body", "x", "stanza-id"]


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_message_without_from_is_stamped(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    mark = f" {D} d:id='b1'" if marked else ""
    sent = f"<message to='{s.jid('bob')}' type='chat' id='nofrom-{int(marked)}'><body{mark}>hi</body></message>"
    r = cases.route_no_from(s, sent)
    assert r.element.get("from") == s.full_jid("alice")
    if marked:
        _check_dsig_id(s, r, "body", "b1")


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_groupchat_through_muc(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    mark = f" {D} d:id='b1'" if marked else ""
    sent = f"<message to='{s.muc_room}' type='groupchat' id='gc-{int(marked)}'><body{mark}>to all</body></message>"
    r = cases.route_groupchat(s, sent)
    _assert_standalone_matches(r)
    assert r.element.get("from") == s.occupant_jid("alice")  # rewritten to the occupant JID
    assert r.element.get("to") == s.full_jid("bob")
    assert r.others[0].element.get("to") == s.full_jid("alice")  # alice's echo
    _xml_lang_added(r)
    if marked:
        _check_dsig_id(s, r, "body", "b1")


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_directed_presence(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    mark = f" {D} d:id='s1'" if marked else ""
    sent = f"<presence to='{s.full_jid('bob')}' id='pres-{int(marked)}'><status{mark}>here</status></presence>"
    r = cases.route_presence(s, sent)
    assert r.element.get("from") == s.full_jid("alice")
    assert r.element.findtext("{jabber:client}status") == "here"
    if marked:
        _check_dsig_id(s, r, "status", "s1")


def _iq(marked: bool, second_child: bool, n: str) -> Callable[[Server], str]:
    mark = f" {D} d:id='q1'" if marked else ""

    def build(s: Server) -> str:
        extra = "<other xmlns='urn:example:o'/>" if second_child else ""
        return (
            f"<iq type='set' to='{s.full_jid('bob')}' id='iq-{n}'>"
            f"<query xmlns='urn:example:q'{mark}><item k='v'/></query>{extra}</iq>"
        )

    return build


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_iq_to_full_jid(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    r = cases.route_iq(s, _iq(marked, False, f"one-{int(marked)}"))
    assert r.element.get("from") == s.full_jid("alice")
    assert r.others[0].element.get("type") == "result"
    if marked:
        assert _attrs_of(r.element, "query").get(f"{{{DSIG}}}id") == "q1"


@pytest.mark.integration
def test_iq_with_two_children(xmpp_server: Server) -> None:
    s = xmpp_server
    build = _iq(True, True, "two")
    if s.name == "prosody":
        with pytest.raises(Refused) as refused:
            cases.route_iq(s, build)
        assert (
            b"<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in refused.value.error.raw
        )
        assert b"Incorrect number of children for IQ stanza" in refused.value.error.raw
    else:
        r = cases.route_iq(s, build)
        assert _child_names(r) == ["query", "other"]


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_offline_delivery_has_server_delay(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    mark = f" {D} d:id='b1'" if marked else ""
    sent = f"<message to='{s.jid('bob')}' type='chat' id='off-{int(marked)}'><body{mark}>while away</body></message>"
    r = cases.route_offline(s, sent)
    delay = r.element.find(f"{{{cases.NS_DELAY}}}delay")
    assert delay is not None and delay.get("from") == s.domain and delay.get("stamp")
    if marked:
        _check_dsig_id(s, r, "body", "b1")


@pytest.mark.integration
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "d-id"])
def test_mam_copy_is_the_nested_message_bytes(xmpp_server: Server, marked: bool) -> None:
    s = xmpp_server
    mark = f" {D} d:id='b1'" if marked else ""
    sent = f"<message to='{s.jid('bob')}' type='chat' id='mam-{int(marked)}'><body{mark}>keep me</body></message>"
    try:
        r = cases.route_mam(s, sent)
    except cases.NotOffered as exc:
        pytest.skip(str(exc))
    assert r.received.startswith(b"<message ") and r.received.endswith(b"</message>")
    assert r.received in r.stanza.raw
    _assert_standalone_matches(r)
    assert etree.QName(r.element).namespace == "jabber:client"
    assert r.element.get("id") == f"mam-{int(marked)}"
    forwarded = r.element.getparent()
    assert forwarded is not None and etree.QName(forwarded).localname == "forwarded"
    if marked:
        _check_dsig_id(s, r, "body", "b1")


@pytest.mark.integration
def test_other_users_can_be_sender_and_recipient(prosody: Server) -> None:
    s = prosody
    sent = f"<message to='{s.full_jid('alice')}' type='chat' id='carol-1'><body>hi</body></message>"
    r = cases.route_chat(s, sent, sender="carol", recipient="alice")
    assert r.element.get("from") == s.full_jid("carol")
    assert r.element.get("to") == s.full_jid("alice")


@pytest.mark.integration
def test_received_bytes_are_slices_of_the_wire(xmpp_server: Server) -> None:
    """Every recorded stanza is a verbatim, in-order slice of what came over the socket; what
    lies between them is only stream headers, the XML declaration and whitespace."""
    s = xmpp_server
    with connect(s, "alice", presence=True) as alice, connect(s, "bob", presence=True) as bob:
        alice.send(
            f"<message to='{s.full_jid('bob')}' type='chat' id='wire-1'>"
            f"<body {D} d:id='b1'>a &amp; b\r\n<![CDATA[<x>]]> 'q' \"dq\"</body></message>"
        )
        bob.receive(lambda r: r.attr("id") == "wire-1")
    wire = bytes(bob.wire)
    assert bob.log and wire
    gaps, pos = [], 0
    for item in bob.log:
        at = wire.find(item.raw, pos)
        assert at >= 0, item.raw
        gaps.append(wire[pos:at])
        pos = at + len(item.raw)
    gaps.append(wire[pos:])
    rest = re.sub(rb"<\?xml[^>]*\?>|<stream:stream [^>]*>|</stream:stream>|\s", b"", b"".join(gaps))
    assert rest == b""


def _dpkg_installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    ).stdout
    return status.endswith("install ok installed")


def test_install_script_is_idempotent() -> None:
    """With both packages installed the script does nothing and exits 0 (as root or not)."""
    if not all(_dpkg_installed(p) for p in ("prosody", "ejabberd")):
        pytest.skip("prosody/ejabberd not installed: running the script would install them")
    script = Path(__file__).parent / "harness" / "install-servers.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("nothing to do")
