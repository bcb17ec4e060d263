"""Hostile and broken AS4 messages: each is answered with its exact ebMS error code, never a crash."""

# ruff: noqa: E501 - the corpus is literal messages; wrapping them would hide what each case sends

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import gzip
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from protocols.as4.envelope import build_envelope
from protocols.as4.errors import EbmsException
from protocols.as4.inbound import open_user_message, read_envelope
from protocols.as4.limits import Limits
from protocols.as4.mime import build_multipart, parse_multipart
from protocols.as4.model import (
    CollaborationInfo,
    MessageInfo,
    PartInfo,
    Party,
    PartyId,
    Property,
    Service,
    UserMessage,
)
from protocols.as4.namespaces import (
    COMPRESSION_GZIP,
    DEFAULT_ROLE_INITIATOR,
    DEFAULT_ROLE_RESPONDER,
    NS_DS,
    NS_EB,
    NS_S12,
    NS_WSSE,
    NS_WSU,
    NS_XENC,
    TEST_ACTION,
    TEST_SERVICE,
)
from protocols.as4.outbound import Payload, build_user_message
from protocols.as4.payload import Attachment, InMemory, MemorySpool, read_all
from protocols.as4.pmode import PMode
from protocols.as4.security import SigningIdentity, sign_envelope
from protocols.as4.xml import serialize

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LIMITS = Limits(
    max_message_bytes=4 * 1024 * 1024,
    max_xml_bytes=256 * 1024,
    max_xml_depth=64,
    max_parts=8,
    max_part_header_bytes=4096,
    max_decompressed_bytes=1024 * 1024,
    max_inline_part_bytes=1024 * 1024,
)
SOAP = "application/soap+xml; charset=UTF-8"
PAYLOAD = b"\x00\x01binary payload\r\n--not-a-boundary\r\n" * 64


def _identity(name: str) -> SigningIdentity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return SigningIdentity(key, certificate)


@dataclass(frozen=True)
class World:
    alice: SigningIdentity
    bob: SigningIdentity
    mallory: SigningIdentity

    def message(self, *, sign: bool = True, encrypt: bool = False, compress: bool = False,
                signer: SigningIdentity | None = None, recipient: SigningIdentity | None = None,
                payload: bytes = PAYLOAD) -> tuple[bytes, str]:  # fmt: skip
        pmode = PMode.from_dict(
            {"id": "p", "initiator": {"party_id": "alice"}, "responder": {"party_id": "bob"},
             "service": TEST_SERVICE, "action": TEST_ACTION, "compress": compress,
             "security": {"sign": sign, "encrypt": encrypt}}
        )  # fmt: skip
        sent = build_user_message(
            _user_message(), [Payload("payload@alice", "application/octet-stream", InMemory(payload))], pmode,
            signing=signer or self.alice, recipient_certificate=(recipient or self.bob).certificate,
            spool=MemorySpool, boundary="hostile-boundary",
        )  # fmt: skip
        return read_all(sent.body, 1 << 30), sent.content_type


def _user_message(parts: tuple[PartInfo, ...] = ()) -> UserMessage:
    return UserMessage(
        message_info=MessageInfo(f"{uuid.uuid4()}@alice", NOW),
        from_party=Party((PartyId("alice"),), DEFAULT_ROLE_INITIATOR),
        to_party=Party((PartyId("bob"),), DEFAULT_ROLE_RESPONDER),
        collaboration_info=CollaborationInfo(Service(TEST_SERVICE), TEST_ACTION, "c"),
        payload_info=parts,
    )


@pytest.fixture(scope="module")
def world() -> World:
    return World(_identity("alice"), _identity("bob"), _identity("alice"))


def process(world: World, body: bytes, content_type: str, *, require_encryption: bool = False) -> None:
    envelope = read_envelope(InMemory(body), content_type, limits=LIMITS)
    open_user_message(
        envelope, sender_certificates=[world.alice.certificate], own=world.bob,
        require_encryption=require_encryption, limits=LIMITS, spool=MemorySpool,
    )  # fmt: skip


# ------------------------------------------------------------------------ helpers to damage messages


def _split(raw: bytes, content_type: str) -> tuple[etree._Element, list[Attachment]]:
    root, parts = parse_multipart(InMemory(raw), content_type, limits=LIMITS)
    return etree.fromstring(root), [
        Attachment(a.content_id, a.mime_type, InMemory(read_all(a.source, 1 << 30))) for a in parts
    ]


def _join(root: etree._Element | bytes, parts: list[Attachment]) -> tuple[bytes, str]:
    data = root if isinstance(root, bytes) else serialize(root)
    content_type, body = build_multipart(data, parts, boundary="rebuilt-boundary")
    return read_all(body, 1 << 30), content_type


def _edit_root(raw: bytes, content_type: str, edit: Callable[[etree._Element], None]) -> tuple[bytes, str]:
    root, parts = _split(raw, content_type)
    edit(root)
    return _join(root, parts)


def _edit_parts(
    raw: bytes, content_type: str, edit: Callable[[list[Attachment]], list[Attachment]]
) -> tuple[bytes, str]:
    root, parts = _split(raw, content_type)
    return _join(root, edit(parts))


def _find(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, {"eb": NS_EB, "S12": NS_S12, "ds": NS_DS, "wsse": NS_WSSE, "xenc": NS_XENC})
    assert found is not None, path
    return found


def _flip_byte(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def _with_part_bytes(parts: list[Attachment], change: Callable[[bytes], bytes]) -> list[Attachment]:
    first = parts[0]
    return [
        Attachment(first.content_id, first.mime_type, InMemory(change(read_all(first.source, 1 << 30)))),
        *parts[1:],
    ]


def _signed_with_parts(
    world: World, parts: tuple[PartInfo, ...], attachments: list[Attachment]
) -> tuple[bytes, str]:
    """A message signed by alice whose PartInfo and MIME parts say exactly what the case needs."""
    envelope = build_envelope(_user_message(parts))
    sign_envelope(envelope, attachments, world.alice)
    return _join(envelope, attachments)


XML_HEAD = f'<S12:Envelope xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}"><S12:Header>'
USER = (
    "<eb:UserMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00.000Z</eb:Timestamp>"
    "<eb:MessageId>m@x</eb:MessageId></eb:MessageInfo><eb:PartyInfo>"
    "<eb:From><eb:PartyId>alice</eb:PartyId><eb:Role>r</eb:Role></eb:From>"
    "<eb:To><eb:PartyId>bob</eb:PartyId><eb:Role>r</eb:Role></eb:To></eb:PartyInfo>"
    "<eb:CollaborationInfo><eb:Service>s</eb:Service><eb:Action>a</eb:Action>"
    "<eb:ConversationId>c</eb:ConversationId></eb:CollaborationInfo>{payload}</eb:UserMessage>"
)
PLAIN_USER = USER.format(payload="")


def _soap(
    messaging_inner: str, *, header_extra: str = "", must: str = ' S12:mustUnderstand="true"'
) -> tuple[bytes, str]:
    document = (
        f"{XML_HEAD}{header_extra}<eb:Messaging{must}>{messaging_inner}</eb:Messaging></S12:Header>"
        "<S12:Body/></S12:Envelope>"
    )
    return document.encode(), SOAP


def _part_info(inner: str) -> str:
    return USER.format(payload=f"<eb:PayloadInfo>{inner}</eb:PayloadInfo>")


# ------------------------------------------------------------------------ XML attacks


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return f"<?xml version='1.0'?><!DOCTYPE lolz [{''.join(entities)}]><lolz>&lol9;</lolz>".encode()


def _deep() -> bytes:
    return XML_HEAD.encode() + b"<x>" * 5000 + b"</x>" * 5000 + b"</S12:Header><S12:Body/></S12:Envelope>"


CASES: dict[str, tuple[str, Callable[[World], tuple[bytes, str]]]] = {}


def case(
    name: str, code: str
) -> Callable[[Callable[[World], tuple[bytes, str]]], Callable[[World], tuple[bytes, str]]]:
    def register(make: Callable[[World], tuple[bytes, str]]) -> Callable[[World], tuple[bytes, str]]:
        assert name not in CASES
        CASES[name] = (code, make)
        return make

    return register


def const(name: str, code: str, body: bytes, content_type: str = SOAP) -> None:
    CASES[name] = (code, lambda world: (body, content_type))


const("xxe-external-file", "EBMS:0004",
      b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + XML_HEAD.encode()
      + b"&x;</S12:Header><S12:Body/></S12:Envelope>")  # fmt: skip
const("xxe-parameter-entity", "EBMS:0004",
      b'<!DOCTYPE e [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><e/>')  # fmt: skip
const("xxe-external-dtd", "EBMS:0004", b'<!DOCTYPE e SYSTEM "http://127.0.0.1:9/e.dtd"><e/>')
const("billion-laughs", "EBMS:0004", _billion_laughs())
const("quadratic-blowup-internal-entity", "EBMS:0004",
      b'<!DOCTYPE e [<!ENTITY a "' + b"A" * 10000 + b'">]><e>' + b"&a;" * 1000 + b"</e>")  # fmt: skip
const("not-well-formed", "EBMS:0004", XML_HEAD.encode() + b"<eb:Messaging></S12:Header>")
const("empty-body", "EBMS:0004", b"")
const("binary-garbage-as-soap", "EBMS:0004", bytes(range(256)) * 4)
const("deep-nesting", "EBMS:0004", _deep())
const("oversize-xml", "EBMS:0004", XML_HEAD.encode() + b"<x>" + b"a" * (LIMITS.max_xml_bytes + 1) + b"</x>")
const("oversize-message", "EBMS:0004", b" " * (LIMITS.max_message_bytes + 1))
const("hundreds-of-attributes-on-one-element", "EBMS:0004",
      _soap(PLAIN_USER, header_extra="<x " + " ".join(f'a{i}="1"' for i in range(300)) + "/>")[0])  # fmt: skip
const("hundreds-of-namespace-prefixes", "EBMS:0004",
      _soap(PLAIN_USER, header_extra="<x " + " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(300)) + "/>")[0])  # fmt: skip
const("header-with-too-many-nodes", "EBMS:0009",
      _soap(PLAIN_USER, header_extra="<x>" + "<y/>" * (Limits().max_header_nodes + 1) + "</x>")[0])  # fmt: skip
const("not-an-envelope", "EBMS:0009", b"<Envelope/>")
const("soap11-envelope", "EBMS:0009",
      b'<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header/><S:Body/></S:Envelope>')  # fmt: skip
const("no-header", "EBMS:0009", f'<S12:Envelope xmlns:S12="{NS_S12}"><S12:Body/></S12:Envelope>'.encode())
const("body-before-header", "EBMS:0009",
      f'<S12:Envelope xmlns:S12="{NS_S12}"><S12:Body/><S12:Header/></S12:Envelope>'.encode())  # fmt: skip
const("no-messaging", "EBMS:0009", f"{XML_HEAD}</S12:Header><S12:Body/></S12:Envelope>".encode())
const("json-content-type", "EBMS:0007", b"{}", "application/json")

# ------------------------------------------------------------------------ ebMS header violations

CASES["empty-messaging"] = ("EBMS:0009", lambda w: _soap(""))
CASES["two-messaging-headers"] = (
    "EBMS:0003", lambda w: _soap(PLAIN_USER, header_extra=f'<eb:Messaging S12:mustUnderstand="true">{PLAIN_USER}</eb:Messaging>')
)  # fmt: skip
CASES["two-user-messages"] = ("EBMS:0003", lambda w: _soap(PLAIN_USER + PLAIN_USER.replace("m@x", "m2@x")))
CASES["user-message-and-signal"] = (
    "EBMS:0003",
    lambda w: _soap(PLAIN_USER + "<eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp>"
                    "<eb:MessageId>s@x</eb:MessageId><eb:RefToMessageId>m@x</eb:RefToMessageId></eb:MessageInfo>"
                    '<eb:Error errorCode="EBMS:0004" severity="failure"/></eb:SignalMessage>'),
)  # fmt: skip
CASES["unknown-must-understand-header"] = (
    "EBMS:0009", lambda w: _soap(PLAIN_USER, header_extra='<x:Routing xmlns:x="urn:x" S12:mustUnderstand="true"/>')
)  # fmt: skip
CASES["must-understand-garbage-value"] = (
    "EBMS:0009",
    lambda w: _soap(PLAIN_USER, must=' S12:mustUnderstand="yes"'),
)
CASES["no-message-id"] = (
    "EBMS:0009",
    lambda w: _soap(PLAIN_USER.replace("<eb:MessageId>m@x</eb:MessageId>", "")),
)
CASES["imaginary-timestamp"] = (
    "EBMS:0009",
    lambda w: _soap(PLAIN_USER.replace("2026-01-01T00:00:00.000Z", "2026-13-45T99:00:00Z")),
)
CASES["no-from"] = (
    "EBMS:0009",
    lambda w: _soap(
        PLAIN_USER.replace("<eb:From><eb:PartyId>alice</eb:PartyId><eb:Role>r</eb:Role></eb:From>", "")
    ),
)
CASES["no-party-id"] = (
    "EBMS:0009",
    lambda w: _soap(PLAIN_USER.replace("<eb:PartyId>alice</eb:PartyId>", "")),
)
CASES["no-role"] = (
    "EBMS:0009",
    lambda w: _soap(PLAIN_USER.replace("<eb:Role>r</eb:Role></eb:To>", "</eb:To>")),
)
CASES["no-service"] = ("EBMS:0009", lambda w: _soap(PLAIN_USER.replace("<eb:Service>s</eb:Service>", "")))
CASES["no-action"] = ("EBMS:0009", lambda w: _soap(PLAIN_USER.replace("<eb:Action>a</eb:Action>", "")))
CASES["two-actions"] = (
    "EBMS:0009",
    lambda w: _soap(PLAIN_USER.replace("<eb:Action>a</eb:Action>", "<eb:Action>a</eb:Action>" * 2)),
)
CASES["rar-compression"] = (
    "EBMS:0003",
    lambda w: _soap(_part_info('<eb:PartInfo href="cid:p"><eb:PartProperties><eb:Property name="MimeType">a/b'
                               '</eb:Property><eb:Property name="CompressionType">application/rar</eb:Property>'
                               "</eb:PartProperties></eb:PartInfo>")),
)  # fmt: skip
CASES["compressed-without-mime-type"] = (
    "EBMS:0003",
    lambda w: _soap(_part_info('<eb:PartInfo href="cid:p"><eb:PartProperties><eb:Property name="CompressionType">'
                               "application/gzip</eb:Property></eb:PartProperties></eb:PartInfo>")),
)  # fmt: skip
CASES["external-payload-href"] = (
    "EBMS:0011",
    lambda w: _soap(_part_info('<eb:PartInfo href="http://127.0.0.1:9/x"/>')),
)
CASES["cid-without-mime-part"] = (
    "EBMS:0011",
    lambda w: _soap(_part_info('<eb:PartInfo href="cid:nowhere@x"/>')),
)
CASES["same-part-twice"] = ("EBMS:0003", lambda w: _soap(_part_info('<eb:PartInfo href="cid:p"/>' * 2)))
CASES["pull-request"] = (
    "EBMS:0008",
    lambda w: _soap("<eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp>"
                    "<eb:MessageId>p@x</eb:MessageId></eb:MessageInfo><eb:PullRequest/></eb:SignalMessage>"),
)  # fmt: skip

# ------------------------------------------------------------------------ MIME damage


@case("truncated-mime-mid-payload", "EBMS:0007")
def _truncated_mid(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw[: len(raw) - 200], content_type


@case("truncated-mime-no-close-delimiter", "EBMS:0007")
def _truncated_close(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw[: raw.rindex(b"--hostile-boundary--")], content_type


@case("wrong-boundary-in-content-type", "EBMS:0007")
def _wrong_boundary(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw, content_type.replace("hostile-boundary", "other-boundary")


@case("no-boundary-parameter", "EBMS:0007")
def _no_boundary(world: World) -> tuple[bytes, str]:
    raw, _ = world.message()
    return raw, 'multipart/related; type="application/soap+xml"'


@case("wrong-cid-on-the-mime-part", "EBMS:0011")
def _wrong_cid(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw.replace(b"Content-ID: <payload@alice>", b"Content-ID: <other@alice>"), content_type


@case("duplicate-mime-part", "EBMS:0007")
def _duplicate_part(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_parts(raw, content_type, lambda parts: parts + parts)


@case("unreferenced-extra-part", "EBMS:0003")
def _extra_part(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_parts(
        raw, content_type, lambda parts: [*parts, Attachment("smuggled@x", "text/plain", InMemory(b"x"))]
    )


@case("missing-mime-part", "EBMS:0011")
def _missing_part(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_parts(raw, content_type, lambda parts: [])


@case("part-without-content-id", "EBMS:0007")
def _no_content_id(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw.replace(b"Content-ID: <payload@alice>\r\n", b""), content_type


@case("root-part-not-soap", "EBMS:0007")
def _root_not_soap(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw.replace(
        b"Content-Type: application/soap+xml; charset=UTF-8", b"Content-Type: image/png", 1
    ), content_type


@case("bad-base64-part", "EBMS:0007")
def _bad_base64(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    marker = b"Content-Transfer-Encoding: binary\r\nContent-ID: <payload@alice>"
    return raw.replace(
        marker, b"Content-Transfer-Encoding: base64\r\nContent-ID: <payload@alice>"
    ), content_type


@case("unknown-transfer-encoding", "EBMS:0007")
def _unknown_cte(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    marker = b"Content-Transfer-Encoding: binary\r\nContent-ID: <payload@alice>"
    return raw.replace(
        marker, b"Content-Transfer-Encoding: x-uuencode\r\nContent-ID: <payload@alice>"
    ), content_type


@case("too-many-parts", "EBMS:0007")
def _too_many(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    extra = [Attachment(f"extra{i}@x", "text/plain", InMemory(b"x")) for i in range(LIMITS.max_parts + 1)]
    return _edit_parts(raw, content_type, lambda parts: parts + extra)


@case("endless-part-headers", "EBMS:0007")
def _endless_headers(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw.replace(
        b"Content-ID: <payload@alice>\r\n", b"Content-ID: <payload@alice>\r\n" + b"X-Pad: y\r\n" * 2000
    ), content_type


@case("doctype-inside-the-mime-root", "EBMS:0004")
def _mime_doctype(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return raw.replace(
        b"<?xml version='1.0' encoding='UTF-8'?>", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hosts">]>', 1
    ), content_type


# ------------------------------------------------------------------------ signature attacks


@case("tampered-payload", "EBMS:0101")
def _tampered_payload(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_parts(raw, content_type, lambda parts: _with_part_bytes(parts, lambda d: _flip_byte(d, 10)))


@case("tampered-header-action", "EBMS:0101")
def _tampered_header(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_root(
        raw, content_type, lambda root: setattr(_find(root, ".//eb:Action"), "text", "urn:evil")
    )


@case("tampered-body", "EBMS:0101")
def _tampered_body(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_root(
        raw, content_type, lambda root: etree.SubElement(_find(root, "S12:Body"), "{urn:x}injected")
    )


@case("tampered-signature-value", "EBMS:0101")
def _tampered_signature(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        value = _find(root, ".//ds:SignatureValue")
        data = bytearray(base64.b64decode(value.text or ""))
        data[5] ^= 0x01
        value.text = base64.b64encode(bytes(data)).decode()

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("signature-value-bad-base64", "EBMS:0101")
def _signature_bad_base64(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_root(
        raw, content_type, lambda root: setattr(_find(root, ".//ds:SignatureValue"), "text", "!!not base64!!")
    )


@case("tampered-digest-value", "EBMS:0101")
def _tampered_digest(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_root(
        raw, content_type, lambda root: setattr(_find(root, ".//ds:DigestValue"), "text", "AAAA")
    )


@case("signed-by-untrusted-key-same-subject", "EBMS:0101")
def _untrusted(world: World) -> tuple[bytes, str]:
    return world.message(signer=world.mallory)


@case("signature-method-downgraded-to-sha1", "EBMS:0101")
def _downgraded(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_root(
        raw, content_type,
        lambda root: _find(root, ".//ds:SignatureMethod").set("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
    )  # fmt: skip


@case("reference-to-attachment-removed", "EBMS:0101")
def _reference_removed(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        reference = next(
            r for r in root.iter(f"{{{NS_DS}}}Reference") if (r.get("URI") or "").startswith("cid:")
        )
        reference.getparent().remove(reference)  # type: ignore[union-attr]

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("reference-to-an-external-uri", "EBMS:0101")
def _external_reference(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message()
    return _edit_root(
        raw, content_type, lambda root: _find(root, ".//ds:Reference").set("URI", "http://127.0.0.1:9/x")
    )


@case("second-signature", "EBMS:0101")
def _second_signature(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        signature = _find(root, ".//ds:Signature")
        signature.getparent().append(copy.deepcopy(signature))  # type: ignore[union-attr]

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("xsw-signed-messaging-copied-into-security-original-altered", "EBMS:0101")
def _xsw_copy(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        messaging = _find(root, "S12:Header/eb:Messaging")
        _find(root, ".//wsse:Security").append(copy.deepcopy(messaging))
        _find(messaging, ".//eb:Action").text = "urn:evil"

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("xsw-signed-messaging-wrapped-fake-one-in-place", "EBMS:0101")
def _xsw_wrap(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        header = _find(root, "S12:Header")
        messaging = _find(header, "eb:Messaging")
        wrapper = etree.SubElement(header, "{urn:x}Wrapper")
        wrapper.append(copy.deepcopy(messaging))
        messaging.set(f"{{{NS_WSU}}}Id", "forged")
        _find(messaging, ".//eb:Action").text = "urn:evil"

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("xsw-signed-body-moved-to-header-new-body", "EBMS:0101")
def _xsw_body(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        body = _find(root, "S12:Body")
        wrapper = etree.SubElement(_find(root, "S12:Header"), "{urn:x}Wrapper")
        wrapper.append(body)
        etree.SubElement(etree.SubElement(root, f"{{{NS_S12}}}Body"), "{urn:x}Evil")

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("xsw-duplicate-wsu-id", "EBMS:0101")
def _duplicate_id(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        messaging_id = _find(root, "S12:Header/eb:Messaging").get(f"{{{NS_WSU}}}Id")
        etree.SubElement(_find(root, "S12:Header"), "{urn:x}Decoy").set(f"{{{NS_WSU}}}Id", messaging_id or "")

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("xsw-same-id-in-another-id-attribute", "EBMS:0101")
def _duplicate_plain_id(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        body_id = _find(root, "S12:Body").get(f"{{{NS_WSU}}}Id")
        _find(root, "S12:Header/eb:Messaging/eb:UserMessage").set("Id", body_id or "")

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


@case("unsigned-message", "EBMS:0103")
def _unsigned(world: World) -> tuple[bytes, str]:
    return world.message(sign=False)


@case("signature-removed-security-kept", "EBMS:0103")
def _signature_removed(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        signature = _find(root, ".//ds:Signature")
        signature.getparent().remove(signature)  # type: ignore[union-attr]

    raw, content_type = world.message()
    return _edit_root(raw, content_type, edit)


# ------------------------------------------------------------------------ encryption attacks


@case("wrong-gcm-tag", "EBMS:0102")
def _wrong_tag(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True)
    return _edit_parts(
        raw, content_type, lambda parts: _with_part_bytes(parts, lambda d: _flip_byte(d, len(d) - 1))
    )


@case("tampered-ciphertext", "EBMS:0102")
def _tampered_ciphertext(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True)
    return _edit_parts(raw, content_type, lambda parts: _with_part_bytes(parts, lambda d: _flip_byte(d, 20)))


@case("tampered-iv", "EBMS:0102")
def _tampered_iv(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True)
    return _edit_parts(raw, content_type, lambda parts: _with_part_bytes(parts, lambda d: _flip_byte(d, 0)))


@case("ciphertext-shorter-than-iv-and-tag", "EBMS:0102")
def _short_ciphertext(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True)
    return _edit_parts(raw, content_type, lambda parts: _with_part_bytes(parts, lambda d: d[:20]))


@case("encrypted-for-another-key", "EBMS:0102")
def _wrong_key(world: World) -> tuple[bytes, str]:
    return world.message(encrypt=True, recipient=world.mallory)


@case("encrypted-key-cipher-value-bad-base64", "EBMS:0102")
def _cipher_value(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True)
    return _edit_root(
        raw,
        content_type,
        lambda root: setattr(_find(root, ".//xenc:EncryptedKey//xenc:CipherValue"), "text", "%%%"),
    )


@case("encrypted-key-wrapped-key-altered", "EBMS:0102")
def _wrapped_key(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        value = _find(root, ".//xenc:EncryptedKey//xenc:CipherValue")
        value.text = base64.b64encode(_flip_byte(base64.b64decode(value.text or ""), 3)).decode()

    raw, content_type = world.message(encrypt=True)
    return _edit_root(raw, content_type, edit)


@case("encrypted-data-without-encrypted-key", "EBMS:0102")
def _no_encrypted_key(world: World) -> tuple[bytes, str]:
    def edit(root: etree._Element) -> None:
        key = _find(root, ".//xenc:EncryptedKey")
        key.getparent().remove(key)  # type: ignore[union-attr]

    raw, content_type = world.message(encrypt=True)
    return _edit_root(raw, content_type, edit)


@case("unknown-data-encryption-algorithm", "EBMS:0102")
def _unknown_data_algorithm(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True)
    return _edit_root(
        raw, content_type,
        lambda root: _find(root, ".//xenc:EncryptedData/xenc:EncryptionMethod").set("Algorithm", "urn:rot13"),
    )  # fmt: skip


@case("tampered-plaintext-under-encryption", "EBMS:0102")
def _tampered_encrypted_compressed(world: World) -> tuple[bytes, str]:
    raw, content_type = world.message(encrypt=True, compress=True)
    return _edit_parts(
        raw, content_type, lambda parts: _with_part_bytes(parts, lambda d: _flip_byte(d, len(d) // 2))
    )


# ------------------------------------------------------------------------ compression attacks


@case("compression-bomb", "EBMS:0303")
def _bomb(world: World) -> tuple[bytes, str]:
    return world.message(compress=True, payload=b"\0" * (LIMITS.max_decompressed_bytes * 20))


@case("compression-bomb-encrypted", "EBMS:0303")
def _bomb_encrypted(world: World) -> tuple[bytes, str]:
    return world.message(compress=True, encrypt=True, payload=b"\0" * (LIMITS.max_decompressed_bytes * 20))


def _gzip_part(data: bytes) -> tuple[tuple[PartInfo, ...], list[Attachment]]:
    parts = (
        PartInfo(
            "cid:z@x",
            (Property("MimeType", "application/xml"), Property("CompressionType", COMPRESSION_GZIP)),
        ),
    )
    return parts, [Attachment("z@x", COMPRESSION_GZIP, InMemory(data))]


@case("declared-gzip-but-not-gzip", "EBMS:0303")
def _not_gzip(world: World) -> tuple[bytes, str]:
    return _signed_with_parts(world, *_gzip_part(b"<a>plain xml, not gzip</a>"))


@case("truncated-gzip", "EBMS:0303")
def _truncated_gzip(world: World) -> tuple[bytes, str]:
    return _signed_with_parts(world, *_gzip_part(gzip.compress(b"<a/>" * 1000)[:-10]))


@case("gzip-with-trailing-garbage", "EBMS:0303")
def _gzip_trailing(world: World) -> tuple[bytes, str]:
    return _signed_with_parts(world, *_gzip_part(gzip.compress(b"<a/>") + b"\x00garbage"))


@case("empty-gzip-part", "EBMS:0303")
def _empty_gzip(world: World) -> tuple[bytes, str]:
    return _signed_with_parts(world, *_gzip_part(b""))


# ------------------------------------------------------------------------ the tests


def test_the_corpus_has_at_least_sixty_hostile_messages() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_message_gets_its_exact_ebms_error(world: World, name: str) -> None:
    code, make = CASES[name]
    body, content_type = make(world)
    with pytest.raises(EbmsException) as refused:
        process(world, body, content_type)
    assert refused.value.error.code == code, refused.value


def test_unencrypted_message_where_encryption_is_required_is_policy_noncompliance(world: World) -> None:
    body, content_type = world.message()
    with pytest.raises(EbmsException) as refused:
        process(world, body, content_type, require_encryption=True)
    assert refused.value.error.code == "EBMS:0103"


def _decoy_cipher_references(world: World) -> tuple[bytes, str]:
    """Signed, not encrypted, with an unsigned header block naming every part in a CipherReference."""
    raw, content_type = world.message()

    def add_decoy(root: etree._Element) -> None:
        decoy = etree.SubElement(_find(root, "S12:Header"), "{urn:x}Decoy")
        etree.SubElement(decoy, f"{{{NS_XENC}}}CipherReference", URI="cid:payload@alice")

    return _edit_root(raw, content_type, add_decoy)


def _decoy_in_security(world: World) -> tuple[bytes, str]:
    """The decoy CipherReference inside wsse:Security, where real encryption metadata lives."""
    raw, content_type = world.message()

    def add_decoy(root: etree._Element) -> None:
        data = etree.SubElement(_find(root, "S12:Header/wsse:Security"), f"{{{NS_XENC}}}CipherData")
        etree.SubElement(data, f"{{{NS_XENC}}}CipherReference", URI="cid:payload@alice")

    return _edit_root(raw, content_type, add_decoy)


def _body_payload(world: World) -> tuple[bytes, str]:
    """Signed and encrypted as far as it goes, but the payload sits in the (never encrypted) SOAP Body."""
    pmode = PMode.from_dict(
        {"id": "p", "initiator": {"party_id": "alice"}, "responder": {"party_id": "bob"},
         "service": TEST_SERVICE, "action": TEST_ACTION}
    )  # fmt: skip
    sent = build_user_message(
        _user_message(), [Payload("payload@alice", "application/octet-stream", InMemory(PAYLOAD))], pmode,
        signing=world.alice, recipient_certificate=world.bob.certificate, spool=MemorySpool,
        boundary="hostile-boundary", body_payload=b"<secret>in clear</secret>",
    )  # fmt: skip
    return read_all(sent.body, 1 << 30), sent.content_type


ENCRYPTION_REQUIRED_CASES = {
    "decoy-cipher-reference-in-header": _decoy_cipher_references,
    "decoy-cipher-reference-in-security": _decoy_in_security,
    "payload-in-soap-body": _body_payload,
}


@pytest.mark.parametrize("name", sorted(ENCRYPTION_REQUIRED_CASES))
def test_unencrypted_payload_dressed_as_encrypted_is_policy_noncompliance(world: World, name: str) -> None:
    body, content_type = ENCRYPTION_REQUIRED_CASES[name](world)
    process(world, body, content_type)  # well-formed and signed: only the policy can refuse it
    with pytest.raises(EbmsException) as refused:
        process(world, body, content_type, require_encryption=True)
    assert refused.value.error.code == "EBMS:0103", refused.value


def test_the_undamaged_messages_pass(world: World) -> None:
    for options in ({}, {"encrypt": True}, {"compress": True}, {"encrypt": True, "compress": True}):
        body, content_type = world.message(**options)  # type: ignore[arg-type]
        process(world, body, content_type)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=4096),
    content_type=st.sampled_from(
        [
            SOAP,
            "multipart/related; boundary=b",
            'multipart/related; boundary="hostile-boundary"',
            "text/xml",
            "",
        ]
    ),
)
def test_random_bytes_never_raise_anything_but_an_ebms_exception(
    world: World, data: bytes, content_type: str
) -> None:
    with contextlib.suppress(EbmsException):
        process(world, data, content_type)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255), cut=st.booleans())
def test_single_byte_damage_to_a_real_message_never_raises_anything_but_an_ebms_exception(
    world: World, signed_message: tuple[bytes, str], position: int, value: int, cut: bool
) -> None:
    body, content_type = signed_message
    position %= len(body)
    damaged = body[:position] if cut else body[:position] + bytes([value]) + body[position + 1 :]
    with contextlib.suppress(EbmsException):
        process(world, damaged, content_type)


@pytest.fixture(scope="module")
def signed_message(world: World) -> tuple[bytes, str]:
    return world.message(encrypt=True, compress=True, payload=b"<a>" + b"x" * 300 + b"</a>")
