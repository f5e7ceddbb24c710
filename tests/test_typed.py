"""Typed in, typed out: signing a binding, binding verified content, generated accessors,
third-party schema packages (xmppsec.schema.register) and a strict-mypy consumer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec import schema as xmppsec_schema
from xmppsec.bindings.dsig import StanzaDesc
from xmppsec.bindings.jabber_client import (
    Iq,
    IqTypeValue,
    LangTextType,
    Message,
    MessageType,
    Presence,
    PriorityType,
    ShowType,
    ShowValue,
    ThreadType,
)
from xmppsec.bindings.xmldsig import Signature
from xmppsec.dsig import ROBUST, Policy
from xmppsec.errors import StanzaSchemaError, UsageError
from xmppsec.schema import from_binding, register, to_binding, validate, validate_document

if TYPE_CHECKING:
    from tests.conftest import JULIET, NOW, make_signer, verifier
    from tests.test_e2e_api import open_, seal
else:
    from conftest import JULIET, NOW, make_signer, verifier
    from test_e2e_api import open_, seal

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors" / "codegen"
FROM = "juliet@capulet.net/balcony"


def message() -> Message:
    return Message(
        from_value=FROM,
        to="romeo@montague.net",
        choice=[MessageType.Body(value="Wherefore art thou?"), ThreadType(value="t1")],
    )


# -- typed in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stanza",
    [
        message(),
        Presence(from_value=FROM, choice=[ShowType(value=ShowValue.AWAY), PriorityType(value=5)]),
    ],
)
def test_signing_a_binding_verifies(stanza: Message | Presence) -> None:
    signed = make_signer().sign(stanza)
    assert isinstance(signed, bytes)
    result = verifier(JULIET).verify(signed, now=NOW)
    assert result.valid, result.error
    assert result.signed_as(type(stanza)).from_value == FROM


def test_signing_an_iq_binding() -> None:
    iq = Iq(from_value=FROM, to="romeo@montague.net", id="v1", type_value=IqTypeValue.RESULT)
    signed = make_signer().sign(iq)
    result = verifier(JULIET).verify(signed, now=NOW)
    assert result.valid, result.error
    assert result.signed_as(Iq).type_value is IqTypeValue.RESULT


def test_signing_a_binding_equals_signing_its_bytes() -> None:
    msg = message()
    a = make_signer().sign(msg)
    b = make_signer().sign(from_binding(msg))
    # Same clock, same key type: the bytes differ only in the random d:id stem and signature.
    strip = [etree.QName(c).localname for c in etree.fromstring(a)]
    assert strip == [etree.QName(c).localname for c in etree.fromstring(b)]


@pytest.mark.parametrize("bad", [42, "<message xmlns='jabber:client'/>", StanzaDesc])
def test_sign_refuses_what_is_neither_bytes_nor_a_stanza_binding(bad: object) -> None:
    with pytest.raises(UsageError):
        make_signer().sign(bad)  # type: ignore[arg-type]


def test_sign_refuses_an_element_and_points_to_sign_element() -> None:
    with pytest.raises(UsageError, match="sign_element"):
        make_signer().sign(etree.fromstring(from_binding(message())))  # type: ignore[arg-type]


def test_a_schema_invalid_binding_is_refused_before_signing() -> None:
    bad = Presence(from_value=FROM, choice=[PriorityType(value=500)])  # xs:byte
    with pytest.raises(StanzaSchemaError):
        make_signer().sign(bad)


def test_importing_dsig_loads_no_binding() -> None:
    # xmppsec.schema is on the verify path (strict verification validates); xsdata and the
    # generated bindings load only when a caller asks for a typed view.
    code = (
        "import sys, xmppsec.dsig\n"
        "bad = [m for m in sys.modules if m.startswith(('xsdata', 'xmppsec.bindings'))]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# -- typed out -------------------------------------------------------------------------------


def test_signed_as_holds_only_signed_children() -> None:
    msg = message()
    signed = make_signer().sign(msg, select=lambda c: etree.QName(c).localname == "body")
    root = etree.fromstring(signed)
    root.insert(0, etree.fromstring("<subject xmlns='jabber:client'>forged</subject>"))
    result = verifier(JULIET, policy=Policy.optimistic()).verify(root, now=NOW)
    assert result.valid and result.unsigned_children
    bound = result.signed_as(Message)
    assert isinstance(bound, Message)
    assert [type(c) for c in bound.choice] == [MessageType.Body]
    assert bound.body is not None and bound.body.value == "Wherefore art thou?"
    assert bound.subject is None and bound.thread is None
    assert bound.to == "romeo@montague.net"


def test_signed_as_refuses_an_unverified_result() -> None:
    signed = make_signer().sign(message()).replace(b"Wherefore", b"Therefore")
    result = verifier(JULIET).check(signed, now=NOW)
    assert not result.valid
    with pytest.raises(UsageError):
        result.signed_as(Message)


def test_signed_as_a_wrong_class_is_a_schema_error() -> None:
    result = verifier(JULIET).verify(make_signer().sign(message()), now=NOW)
    with pytest.raises(StanzaSchemaError):
        result.signed_as(Presence)


@pytest.mark.parametrize("profile", ["spec", "robust"])
def test_signature_and_stanza_desc_bindings(profile: str) -> None:
    signer = make_signer(profile=ROBUST if profile == "robust" else "spec")
    signed = signer.sign(message())
    result = verifier(JULIET).verify(signed, now=NOW)
    assert result.valid, result.error
    sig = result.signatures[0]
    assert isinstance(sig.signature_binding(), Signature)
    desc = sig.stanza_desc_binding()
    assert desc.signer == JULIET
    if profile == "spec":
        assert isinstance(desc, StanzaDesc)
    assert "signature_element" not in repr(sig)


def test_opened_stanza_as_binding() -> None:
    opened = open_(seal())
    inner = opened.stanza_as(Message)
    assert inner.body is not None and inner.body.value.startswith("Wherefore")


# -- generated accessors -------------------------------------------------------------------


def test_accessors_read_the_choice_list_by_element_name() -> None:
    msg = to_binding(
        b"<message xmlns='jabber:client' to='a@b'><body xml:lang='en'>hi</body>"
        b"<subject>s</subject><body xml:lang='de'>hallo</body><thread>t</thread></message>",
        Message,
    )
    assert [b.value for b in msg.bodies] == ["hi", "hallo"]
    assert msg.body is msg.bodies[0]
    assert msg.subject is not None and msg.subject.value == "s"
    assert [s.value for s in msg.subjects] == ["s"]  # a Subject is no Body, though both
    assert msg.thread is not None and msg.thread.value == "t"  # derive from LangTextType
    presence = to_binding(
        b"<presence xmlns='jabber:client'><show>dnd</show><status>busy</status>"
        b"<priority>-1</priority></presence>",
        Presence,
    )
    assert presence.show is not None and presence.show.value is ShowValue.DND
    assert [type(s) for s in presence.statuses] == [LangTextType]
    assert presence.priority is not None and presence.priority.value == -1
    with pytest.raises(AttributeError):
        presence.show = None  # type: ignore[misc]  # read-only


# -- third-party schema packages -----------------------------------------------------------

LABEL = (
    b"<securitylabel xmlns='urn:xmpp:sec-label:0'>"
    b"<displaymarking fgcolor='black'>SECRET</displaymarking>"
    b"<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQYCAQQGASk=</esssecuritylabel>"
    b"</label></securitylabel>"
)


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xmppsec.codegen import main

    out = tmp_path_factory.mktemp("labels")
    assert main(["--quiet", "--schema", str(VECTORS / "sec-label.xsd"), "--package",
                 "typedlabels", "--out", str(out)]) == 0
    assert (out / "typedlabels" / "xsd" / "sec-label.xsd").is_file()
    return out


def test_register_makes_a_codegen_package_validate_and_bind(
    labels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(labels))
    # register is process-global: undone after this test (a later test, or a docs page
    # registering another schema for the same namespace, must not see this one)
    monkeypatch.setattr(xmppsec_schema, "_registered", xmppsec_schema._registered)
    monkeypatch.setattr(xmppsec_schema, "_schema", xmppsec_schema._schema)
    from typedlabels.sec_label import Securitylabel  # type: ignore[import-not-found]

    with pytest.raises(StanzaSchemaError, match="No matching global declaration"):
        validate_document(LABEL)
    assert register("typedlabels") == ("urn:xmpp:sec-label:0",)
    assert register("typedlabels") == ("urn:xmpp:sec-label:0",)  # idempotent
    label = to_binding(LABEL, Securitylabel)
    assert label.displaymarking.value == "SECRET"
    assert b"SECRET" in from_binding(label)
    validate_document(LABEL)
    stanza = b"<message xmlns='jabber:client'><body>x</body>" + LABEL + b"</message>"
    validate(stanza)
    broken = stanza.replace(b"<label>", b"<bogus/><label>")
    with pytest.raises(StanzaSchemaError, match="bogus"):  # lax wildcard now checks it
        validate(broken)
    # The package's own XSDs still validate the stanzas they always did.
    validate(from_binding(message()))


def test_register_refuses_what_is_no_schema_package() -> None:
    with pytest.raises(UsageError, match="cannot be imported"):
        register("no.such.package")
    with pytest.raises(UsageError, match="ships no XSD"):
        register("json")


def test_cli_validate_schema_package(labels: Path, tmp_path: Path) -> None:
    doc = tmp_path / "label.xml"
    doc.write_bytes(LABEL)
    env_path = f"{labels}:{ROOT / 'runtime'}:{ROOT / 'generated'}:{ROOT / 'codegen'}"
    cmd = [sys.executable, "-m", "xmppsec.cli", "validate", "--in", str(doc)]
    env = {"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}
    plain = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert plain.returncode == 1
    with_pkg = subprocess.run([*cmd, "--schema-package", "typedlabels"], capture_output=True,
                              text=True, env=env)
    assert with_pkg.returncode == 0, with_pkg.stderr
    doc.write_bytes(LABEL.replace(b"<label>", b"<bogus/><label>"))
    bad = subprocess.run([*cmd, "--schema-package", "typedlabels"], capture_output=True,
                         text=True, env=env)
    assert bad.returncode == 1 and "bogus" in bad.stderr


# -- a strict-mypy consumer ----------------------------------------------------------------

CONSUMER = """\
from xmppsec.bindings.jabber_client import Message, MessageType
from xmppsec.dsig import Signer, Verifier
from xmppsec.keys import generate_identity
from xmppsec.trust import TrustStore

ident = generate_identity("juliet@capulet.net")
signer = Signer(ident.private_key, signer="juliet@capulet.net")
signed: bytes = signer.sign(Message(to="romeo@montague.net",
                                    choice=[MessageType.Body(value="hi")]))
verifier = Verifier(TrustStore().pin("juliet@capulet.net", ident.certificate))
result = verifier.verify(signed)
message: Message = result.signed_as(Message)
body = message.body
text: str | None = body.value if body is not None else None
desc_signer: str = result.signatures[0].stanza_desc_binding().signer
"""

MISUSES = {
    "attr-defined": "message.bodyy\n",
    "arg-type": "signer.sign(42)\n",
    "assignment": "n: int = result.signed_as(Message)\n",
    "union-attr": "message.body.value\n",
}


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "consumer.py"
    target.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file",
         str(ROOT / "pyproject.toml"), "--no-incremental", str(target)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )


def test_mypy_strict_consumer_and_misuses(tmp_path: Path) -> None:
    ok = _mypy(tmp_path, CONSUMER)
    assert ok.returncode == 0, ok.stdout
    bad = _mypy(tmp_path, CONSUMER + "".join(MISUSES.values()))
    assert bad.returncode == 1
    for code in MISUSES:
        assert f"[{code}]" in bad.stdout, (code, bad.stdout)
    assert bad.stdout.count("error:") == len(MISUSES), bad.stdout


def test_signed_as_binds_a_server_to_server_stanza_to_the_client_classes() -> None:
    # RFC 6120 §4.8.3: a stanza verified on an s2s stream (jabber:server) has the jabber:client
    # content model; its own-namespace children bind too, a foreign one is still refused.
    stanza = (
        b"<message xmlns='jabber:server' from='" + FROM.encode() + b"' to='romeo@montague.net'"
        b" id='s2s1'><body>Wherefore?</body><thread>t9</thread></message>"
    )
    result = verifier(JULIET).verify(make_signer().sign(stanza), now=NOW)
    assert result.valid, result.error
    bound = result.signed_as(Message)
    assert bound.id == "s2s1"
    assert [b.value for b in bound.bodies] == ["Wherefore?"]
    assert bound.thread is not None and bound.thread.value == "t9"
    assert result.stanza_namespace == "jabber:server"  # the result itself is untouched
    with pytest.raises(StanzaSchemaError):
        result.signed_as(Presence)
