"""Signatures through real Prosody and ejabberd (issue "Signatures that survive real servers").

Every case sends a stanza signed by alice through a real server on 127.0.0.1 and verifies the
exact bytes bob's client receives (tests/harness). The expected outcome of every
(server, profile, case) is data in tests/vectors/routing/expected.json; the test asserts the
observed outcome equals it, and docs/routing.md is rendered from the same data
(``python -m tests.test_servers`` rewrites it; ``test_routing_doc_is_current`` checks it).

The received stanza is verified as a standalone element, the way client libraries hand
stanzas to applications (not inheriting the stream header's ``xml:lang``).
"""

from __future__ import annotations

import base64
import copy
import functools
import hmac
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.harness import cases
from tests.harness.cases import Refused, Routed
from tests.harness.servers import Server
from xmppsec.algorithms import DigestMethod, digest
from xmppsec.dsig import ROBUST, SPEC, Policy, Profile, Signer, Verifier, _c14n
from xmppsec.dsig._stanza import DSIG_ID
from xmppsec.errors import DigestMismatch, StanzaMismatch, XmppSecError
from xmppsec.keys import Identity, generate_identity
from xmppsec.parser import parse
from xmppsec.trust import TrustStore

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_FILE = ROOT / "tests" / "vectors" / "routing" / "expected.json"
DOC_FILE = ROOT / "docs" / "routing.md"
PROFILES = {"robust": ROBUST, "spec": SPEC}
CASE_NAMES = ("chat", "no_from", "groupchat", "presence", "iq", "offline", "mam")
DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"

_ids = itertools.count(1)


@functools.cache
def alice_identity(domain: str) -> Identity:
    return generate_identity(f"alice@{domain}")


def _signer(server: Server, profile: Profile) -> Signer:
    ident = alice_identity(server.domain)
    return Signer(
        ident.private_key,
        signer=server.jid("alice"),
        certificate=ident.certificate,
        profile=profile,
    )


def _trust(server: Server) -> TrustStore:
    return TrustStore().pin(server.jid("alice"), alice_identity(server.domain).certificate)


def _message(server: Server, profile: Profile, **attrs: str) -> bytes:
    sid = f"{profile.name}-m{next(_ids)}"
    rendered = " ".join(f"{k}='{v}'" for k, v in attrs.items())
    stanza = (
        f"<message xmlns='jabber:client' {rendered} id='{sid}'>"
        "<body xml:lang='en'>Hi Bob &amp; \"friends\" – café</body><thread>th-42</thread>"
        "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    )
    return _signer(server, profile).sign(stanza.encode())


def _build(case: str, profile: Profile) -> Callable[[Server], bytes]:
    def build(s: Server) -> bytes:
        if case == "chat":
            return _message(
                s, profile, to=s.jid("bob"), type="chat", **{"from": s.full_jid("alice")}
            )
        if case in ("no_from", "offline", "mam"):
            return _message(s, profile, to=s.jid("bob"), type="chat")
        if case == "groupchat":
            return _message(s, profile, to=s.muc_room, type="groupchat")
        signer = _signer(s, profile)
        if case == "presence":
            return signer.sign(
                f"<presence xmlns='jabber:client' to='{s.full_jid('bob')}' "
                f"id='{profile.name}-p{next(_ids)}'><show>away</show>"
                "<status xml:lang='en'>gone fishing</status><priority>5</priority></presence>".encode()
            )
        assert case == "iq"
        return signer.sign(
            f"<iq xmlns='jabber:client' type='set' to='{s.full_jid('bob')}' "
            f"id='{profile.name}-q{next(_ids)}'><query xmlns='urn:example:rpc'>"
            "<arg n='1'>one</arg></query></iq>".encode()
        )

    return build


_DRIVERS: dict[str, Callable[[Server, Callable[[Server], bytes]], Routed]] = {
    "chat": cases.route_chat,
    "no_from": cases.route_no_from,
    "groupchat": cases.route_groupchat,
    "presence": cases.route_presence,
    "iq": cases.route_iq,
    "offline": cases.route_offline,
    "mam": cases.route_mam,
}


def received_stanza(routed: Routed) -> etree._Element:
    """The delivered stanza as a standalone element (through the hardened parser)."""
    if routed.case == "mam":
        doc = parse(routed.stanza.document())
        found = doc[0].find(".//{urn:xmpp:forward:0}forwarded/{jabber:client}message")
        assert found is not None
        return copy.deepcopy(found)
    return copy.deepcopy(parse(routed.stanza.document())[0])


def spec_reference_survival(stanza: etree._Element) -> list[str]:
    """Diagnostic for the spec profile: whether each per-child reference would still match,
    judged on its own (the SignatureValue usually fails first; this shows which children a
    server left intact). Resolution and digest as in xmppsec.dsig."""
    sig = next(c for c in stanza if c.tag == DS_SIGNATURE)
    desc = sig.find(".//{urn:xmpp:dsig:0}stanza-desc")
    assert desc is not None
    method = DigestMethod(desc[2].get("Algorithm", ""))
    out = []
    for ref in desc[3]:
        fragment = (ref.get("URI") or "").split("#", 1)[1]
        targets = [c for c in stanza if c.get(DSIG_ID) == fragment]
        if not targets:
            out.append("target-missing")
            continue
        actual = digest(method, _c14n.c14n_child(targets[0]))
        ok = hmac.compare_digest(actual, base64.b64decode(ref.text or ""))
        out.append("ok" if ok else "digest-mismatch")
    return out


@dataclass(frozen=True)
class Observed:
    routing: str
    strict: str
    optimistic: str
    references: list[str]
    relation: str
    unsigned: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "routing": self.routing,
            "strict": self.strict,
            "optimistic": self.optimistic,
            "references": self.references,
            "relation": self.relation,
            "unsigned": self.unsigned,
        }


def _verdict(error: XmppSecError | None) -> str:
    return "valid" if error is None else type(error).__name__


def observe(server: Server, profile: Profile, case: str) -> tuple[Observed, etree._Element | None]:
    try:
        routed = _DRIVERS[case](server, _build(case, profile))
    except Refused as exc:
        text = exc.error.raw.decode("utf-8", "replace")
        condition = "bad-request" if "bad-request" in text else "error"
        return Observed(f"refused ({condition})", "-", "-", [], "-", []), None
    stanza = received_stanza(routed)
    return judge(stanza, _trust(server), server.domain, spec=profile is SPEC), stanza


def judge(stanza: etree._Element, trust: TrustStore, own_server: str, *, spec: bool) -> Observed:
    """The outcome columns of docs/routing.md for one received stanza (on one server, and
    across federation in tests/test_federation)."""
    strict = Verifier(trust, policy=Policy(own_server=own_server)).check(stanza)
    optimistic = Verifier(trust, policy=Policy.optimistic()).check(stanza)
    sig = optimistic.signatures[0] if optimistic.signatures else None
    if spec:
        references = spec_reference_survival(stanza)
    else:
        references = [r.status.value for r in sig.references] if sig else []
    return Observed(
        routing="delivered",
        strict=_verdict(strict.error),
        optimistic=_verdict(optimistic.error),
        references=references,
        relation=sig.sender_relation if sig and sig.valid else "-",
        unsigned=sorted(etree.QName(n).localname for n in optimistic.unsigned_children),
    )


def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
    return data


@pytest.mark.integration
@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("profile_name", ["robust", "spec"])
def test_routing_outcome_is_as_recorded(xmpp_server: Server, profile_name: str, case: str) -> None:
    got, _ = observe(xmpp_server, PROFILES[profile_name], case)
    want = expected()["outcomes"][xmpp_server.name][profile_name][case]
    assert got.as_json() == want


ROBUST_CORE = ("chat", "no_from", "groupchat", "presence", "iq", "offline")


@pytest.mark.integration
@pytest.mark.parametrize("case", ROBUST_CORE)
def test_robust_profile_verifies_and_tampering_is_still_caught(
    xmpp_server: Server, case: str
) -> None:
    got, stanza = observe(xmpp_server, ROBUST, case)
    assert got.strict == "valid", got
    assert stanza is not None
    # a server in the middle changes signed content after routing ...
    target = {
        "presence": "{jabber:client}status",
        "iq": "{urn:example:rpc}query",
    }.get(case, "{jabber:client}body")
    tampered = copy.deepcopy(stanza)
    element = tampered.find(target)
    assert element is not None
    if case == "iq":
        element[0].text = "two"
    else:
        element.text = (element.text or "") + "!"
    with pytest.raises(DigestMismatch):
        Verifier(_trust(xmpp_server), policy=Policy(own_server=xmpp_server.domain)).verify(tampered)
    # ... or retargets the stanza
    retargeted = copy.deepcopy(stanza)
    if case == "groupchat":
        retargeted.set("from", f"other@{xmpp_server.muc_domain}/alice")
    else:
        retargeted.set("id", "forged")
    with pytest.raises(StanzaMismatch):
        Verifier(_trust(xmpp_server), policy=Policy(own_server=xmpp_server.domain)).verify(
            retargeted
        )


# -- the documentation table -----------------------------------------------------------------

_TITLES = {
    "chat": "chat message (with from)",
    "no_from": "message without from (server stamps it)",
    "groupchat": "groupchat via MUC room to another occupant",
    "presence": "directed presence",
    "iq": "iq to a full JID",
    "offline": "offline message (delivered at login with delay)",
    "mam": "MAM-retrieved copy (XEP-0313)",
}


_FED_TITLES = {
    "chat": "1. chat message (with from)",
    "presence": "1. directed presence",
    "iq": "1. iq to a full JID",
    "muc_private": "2. MUC private message, room on the sender's server",
    "muc_private_at_recipient": "2. MUC private message, room on the recipient's server",
    "groupchat": "3a. groupchat, occupant's signature, room on the sender's server",
    "groupchat_at_recipient": "3a. groupchat, occupant's signature, room on the recipient's server",
    "room_service": "3b. groupchat signed by the room service on the sender's server",
    "room_service_at_recipient": "3b. groupchat signed by the room service on the recipient's server",
    "broadcast": "4. broadcast presence (signed without `to`)",
}


def _render_federation(data: dict[str, Any], servers: dict[str, str]) -> list[str]:
    """The federation section: per direction, robust and spec profile side by side
    (asserted by tests/test_federation.py)."""
    lines = ["## Across federation: Prosody and ejabberd", "", data["intro"], ""]
    for direction, outcomes in data["outcomes"].items():
        sender, recipient = direction.split("->")
        lines += [
            f"### {servers[sender]} → {servers[recipient]}",
            "",
            "| case | robust: strict | robust: from | robust: references | robust: unsigned "
            "| spec: strict | spec: references |",
            "|---|---|---|---|---|---|---|",
        ]
        for case, title in _FED_TITLES.items():
            robust = outcomes[case]["robust"]
            spec = outcomes[case].get("spec")
            if spec is None:
                spec_cells = "n/a (the service signs with the robust profile) | –"
            else:
                verdict = spec["strict"] if spec["routing"] == "delivered" else spec["routing"]
                spec_cells = f"{verdict} | {', '.join(spec['references']) or '–'}"
            lines.append(
                f"| {title} | {robust['strict']} | {robust['relation']} "
                f"| {', '.join(robust['references']) or '–'} "
                f"| {', '.join(robust['unsigned']) or '–'} | {spec_cells} |"
            )
        e2e = outcomes["rfc3923"]
        lines += [
            "",
            f"RFC 3923 sealed message (`<e2e/>`): {e2e['routing']}; opened at the recipient:"
            f" {e2e['opened']}, signer: the {e2e['signer']}, encrypted: "
            f"{'yes' if e2e['encrypted'] else 'no'}; one flipped character of the enveloped"
            f" data: {e2e['tampered']}.",
            "",
        ]
    lines += data["notes"] + [""]
    return lines


def render_doc(data: dict[str, Any]) -> str:
    lines = [
        "# What real servers do to signatures",
        "",
        "<!-- Generated from tests/vectors/routing/expected.json by `python -m tests.test_servers`;",
        "     tests/test_servers.py and tests/test_federation.py assert every row against real",
        "     servers (`python -m tests.test_federation` prints the federation rows observed).",
        "     Do not edit. -->",
        "",
        data["intro"],
        "",
        "Columns: **strict** and **optimistic** are the verdicts of `Verifier.check` under",
        "`Policy(own_server=…)` and `Policy.optimistic()` (`valid` or the error type);",
        "**references** the status of each per-child reference in signing order (body, thread,",
        "chat state for messages; show, status, priority for presence; the payload for the",
        "robust iq) — for the spec profile judged one by one even where the SignatureValue",
        "already failed; **from** the sender relation of a valid signature; **unsigned** the",
        "children no signature covers.",
        "",
    ]
    for server in ("prosody", "ejabberd"):
        lines += [f"## {data['servers'][server]}", ""]
        for profile in ("robust", "spec"):
            lines += [
                f"### {profile} profile",
                "",
                "| case | routing | strict | optimistic | references | from | unsigned |",
                "|---|---|---|---|---|---|---|",
            ]
            for case in CASE_NAMES:
                o = data["outcomes"][server][profile][case]
                refs = ", ".join(o["references"]) or "–"
                unsigned = ", ".join(o["unsigned"]) or "–"
                lines.append(
                    f"| {_TITLES[case]} | {o['routing']} | {o['strict']} | {o['optimistic']} "
                    f"| {refs} | {o['relation']} | {unsigned} |"
                )
            lines.append("")
    lines += ["## Reading the table", ""] + data["notes"] + [""]
    if "federation" in data:
        lines += _render_federation(data["federation"], data["servers"])
    lines += [
        "## Who vouches for what, per XEP-0274 use case",
        "",
        "Robust profile, strict policy, through both servers; each row is asserted by the test",
        "named in its last column (docs/component.md runs the service of cases 3b and 5).",
        "",
        "| use case | signer | `sender_relation` | who vouches for what | asserted by |",
        "|---|---|---|---|---|",
    ]
    for row in data.get("use_cases", []):
        lines.append(
            f"| {row['case']} | {row['signer']} | {row['relation']} | {row['vouches']} "
            f"| {row['test']} |"
        )
    lines.append("")
    return "\n".join(lines)


# docs/security.md carries the same per-case rows (without the tests column) between these
# markers, rendered from the same data: one source, two pages.
SECURITY_FILE = ROOT / "docs" / "security.md"
_SECURITY_START = (
    "<!-- use-cases: generated from tests/vectors/routing/expected.json by"
    " `python -m tests.test_servers` -->"
)
_SECURITY_END = "<!-- use-cases: end -->"


def render_security(text: str, data: dict[str, Any]) -> str:
    """``text`` (docs/security.md) with its per-use-case block rendered from ``data``."""
    head, start, rest = text.partition(_SECURITY_START)
    _, end, tail = rest.partition(_SECURITY_END)
    assert start and end, "docs/security.md lost its use-cases markers"
    rows = [
        "",
        "",
        "| use case | signer | `sender_relation` | who vouches for what |",
        "|---|---|---|---|",
    ]
    for row in data.get("use_cases", []):
        rows.append(f"| {row['case']} | {row['signer']} | {row['relation']} | {row['vouches']} |")
    return head + start + "\n".join(rows) + "\n\n" + end + tail


def test_routing_doc_is_current() -> None:
    assert DOC_FILE.read_text(encoding="utf-8") == render_doc(expected()), (
        "docs/routing.md is stale: run `python -m tests.test_servers`"
    )
    security = SECURITY_FILE.read_text(encoding="utf-8")
    assert security == render_security(security, expected()), (
        "docs/security.md's use-case table is stale: run `python -m tests.test_servers`"
    )


def _record() -> None:  # pragma: no cover - maintenance command
    """Observe every case on both servers and print the outcomes as JSON (to review and
    paste into expected.json), then rewrite docs/routing.md from expected.json."""
    import tempfile

    from tests.harness.servers import start_ejabberd, start_prosody

    observed: dict[str, Any] = {}
    for start in (start_prosody, start_ejabberd):
        with tempfile.TemporaryDirectory() as tmp, start(Path(tmp)) as server:
            observed[server.name] = {
                p: {c: observe(server, PROFILES[p], c)[0].as_json() for c in CASE_NAMES}
                for p in ("robust", "spec")
            }
    print(json.dumps(observed, indent=2, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    if "--observe" in sys.argv:
        _record()
    DOC_FILE.write_text(render_doc(expected()), encoding="utf-8")
    text = SECURITY_FILE.read_text(encoding="utf-8")
    SECURITY_FILE.write_text(render_security(text, expected()), encoding="utf-8")


@pytest.mark.integration
def test_robust_archived_copy_verifies_strictly_when_only_archived_children_are_signed(
    xmpp_server: Server,
) -> None:
    """Prosody's archive drops XEP-0085 chat states (see the table): a message that signs
    only what archives keep verifies strictly from MAM on both servers."""
    s = xmpp_server

    def build(srv: Server) -> bytes:
        return _signer(srv, ROBUST).sign(
            f"<message xmlns='jabber:client' to='{srv.jid('bob')}' type='chat' "
            f"id='robust-mam{next(_ids)}'><body>archived &amp; signed</body>"
            "<thread>th-7</thread></message>".encode()
        )

    stanza = received_stanza(cases.route_mam(s, build))
    result = Verifier(_trust(s), policy=Policy(own_server=s.domain)).verify(stanza)
    assert [r.status.value for r in result.signatures[0].references] == ["ok", "ok"]
    assert [etree.QName(c).localname for c in result.signed_children()] == ["body", "thread"]
