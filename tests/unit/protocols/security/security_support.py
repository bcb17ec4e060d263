"""Helpers for the security tests: real RSA identities, a minimal AS4 envelope, large sources, file spools."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from protocols.as4.payload import CHUNK, ByteSource, FileSlice
from protocols.as4.security import SigningIdentity

__all__ = ["ENVELOPE", "FileSpool", "Repeating", "make_envelope", "make_identity"]

ENVELOPE = """<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"
 xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
 <S12:Header>
  <eb:Messaging S12:mustUnderstand="true">
   <eb:UserMessage>
    <eb:MessageInfo><eb:Timestamp>2026-11-23T09:00:00.000Z</eb:Timestamp>
     <eb:MessageId>m1@aswnode</eb:MessageId></eb:MessageInfo>
    <eb:PartyInfo><eb:From><eb:PartyId>a</eb:PartyId><eb:Role>r</eb:Role></eb:From>
     <eb:To><eb:PartyId>b</eb:PartyId><eb:Role>r</eb:Role></eb:To></eb:PartyInfo>
    <eb:CollaborationInfo><eb:Service>s</eb:Service><eb:Action>Deliver</eb:Action>
     <eb:ConversationId>c</eb:ConversationId></eb:CollaborationInfo>
    <eb:PayloadInfo>{parts}</eb:PayloadInfo>
   </eb:UserMessage>
  </eb:Messaging>
 </S12:Header>
 <S12:Body/>
</S12:Envelope>"""


def make_identity(common_name: str, *, with_ski: bool = True, key_size: int = 2048) -> SigningIdentity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aswnode security tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if with_ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    return SigningIdentity(key, builder.sign(key, hashes.SHA256()))


def make_envelope(*content_ids: str) -> etree._Element:
    parts = "".join(f'<eb:PartInfo href="cid:{cid}"/>' for cid in content_ids)
    return etree.fromstring(ENVELOPE.format(parts=parts).encode())


@dataclass(frozen=True, slots=True)
class Repeating:
    """A large ByteSource made on the fly, never held whole."""

    block: bytes
    count: int

    @property
    def size(self) -> int:
        return len(self.block) * self.count

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        for _ in range(self.count):
            yield self.block


class FileSpool:
    """A spool on a temporary file, as the node supplies one."""

    def __init__(self, directory: str) -> None:
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - lives as long as the spool
        self._length = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._length += len(data)

    def finish(self) -> ByteSource:
        self._file.flush()
        return FileSlice(self._file, 0, self._length)
