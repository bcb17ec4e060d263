"""Every namespace, well-known value and algorithm URI the AS4 code uses, in one place."""

from __future__ import annotations

__all__ = [
    "ALG_AES128_CBC",
    "ALG_AES128_GCM",
    "ALG_AES192_GCM",
    "ALG_AES256_CBC",
    "ALG_AES256_GCM",
    "ALG_C14N_10",
    "ALG_C14N_11",
    "ALG_C14N_EXCL",
    "ALG_C14N_EXCL_WITH_COMMENTS",
    "ALG_DIGEST_SHA1",
    "ALG_DIGEST_SHA256",
    "ALG_DIGEST_SHA384",
    "ALG_DIGEST_SHA512",
    "ALG_EDDSA_ED25519",
    "ALG_ENVELOPED_SIGNATURE",
    "ALG_HKDF",
    "ALG_KW_AES128",
    "ALG_KW_AES256",
    "ALG_MGF1_SHA1",
    "ALG_MGF1_SHA224",
    "ALG_MGF1_SHA256",
    "ALG_MGF1_SHA384",
    "ALG_MGF1_SHA512",
    "ALG_RSA_OAEP",
    "ALG_RSA_OAEP_MGF1P",
    "ALG_RSA_SHA1",
    "ALG_RSA_SHA256",
    "ALG_RSA_SHA384",
    "ALG_RSA_SHA512",
    "ALG_X25519",
    "COMPRESSION_GZIP",
    "DEFAULT_MPC",
    "DEFAULT_ROLE_INITIATOR",
    "DEFAULT_ROLE_RESPONDER",
    "EBMS_NEXT_MSH_ROLE",
    "ENCODING_BASE64",
    "KEY_IDENTIFIER_SKI",
    "MEP_BINDING_PUSH",
    "MEP_ONE_WAY",
    "NS",
    "NS_DS",
    "NS_DSIG11",
    "NS_EB",
    "NS_EBBP",
    "NS_S11",
    "NS_S12",
    "NS_WSSE",
    "NS_WSSE11",
    "NS_WSU",
    "NS_XENC",
    "NS_XENC11",
    "NS_XML",
    "NS_XOP",
    "PARTYID_TYPE_UNREGISTERED",
    "SOAP12_MEDIA_TYPE",
    "SWA_ATTACHMENT_CIPHERTEXT_TRANSFORM",
    "SWA_ATTACHMENT_COMPLETE",
    "SWA_ATTACHMENT_COMPLETE_SIGNATURE_TRANSFORM",
    "SWA_ATTACHMENT_CONTENT_ONLY",
    "SWA_ATTACHMENT_CONTENT_SIGNATURE_TRANSFORM",
    "TEST_ACTION",
    "TEST_SERVICE",
    "TOKEN_TYPE_ENCRYPTED_KEY",
    "TOKEN_X509V3",
    "TOKEN_X509_PKIPATH",
    "XENC_TYPE_CONTENT",
    "XENC_TYPE_ELEMENT",
]

# --- XML namespaces -----------------------------------------------------------
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_S12 = "http://www.w3.org/2003/05/soap-envelope"
NS_S11 = "http://schemas.xmlsoap.org/soap/envelope/"
# OASIS ebMS 3.0 Core, Appendix A
NS_EB = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
# ebBP signals (NonRepudiationInformation in AS4 receipts, AS4 profile §5.1.8)
NS_EBBP = "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_DSIG11 = "http://www.w3.org/2009/xmldsig11#"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS_XOP = "http://www.w3.org/2004/08/xop/include"

# Conventional prefixes used when we build documents.
NS: dict[str, str] = {
    "S12": NS_S12,
    "eb": NS_EB,
    "ebbp": NS_EBBP,
    "wsse": NS_WSSE,
    "wsse11": NS_WSSE11,
    "wsu": NS_WSU,
    "ds": NS_DS,
    "dsig11": NS_DSIG11,
    "xenc": NS_XENC,
    "xenc11": NS_XENC11,
}

SOAP12_MEDIA_TYPE = "application/soap+xml"

# --- ebMS3 well-known values ----------------------------------------------------
# ebMS 3.0 Core §5.2.2.9 (test service and action)
TEST_SERVICE = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service"
TEST_ACTION = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test"
# ebMS 3.0 Core §3.4.1 default MPC; §5.2.2.3 default roles
DEFAULT_MPC = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC"
DEFAULT_ROLE_INITIATOR = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator"
DEFAULT_ROLE_RESPONDER = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder"
# ebMS 3.0 Core §5.2.4 (role of the next MSH, used by multi-hop; kept for completeness)
EBMS_NEXT_MSH_ROLE = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/part2/200811/nextmsh"
# eDelivery AS4 profile: PartyId type for unregistered identifiers
PARTYID_TYPE_UNREGISTERED = "urn:oasis:names:tc:ebcore:partyid-type:unregistered"
MEP_ONE_WAY = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/oneWay"
MEP_BINDING_PUSH = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/push"
# AS4 profile §3.1 compression feature
COMPRESSION_GZIP = "application/gzip"

# --- WS-Security tokens ---------------------------------------------------------
TOKEN_X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
TOKEN_X509_PKIPATH = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509PKIPathv1"
)
ENCODING_BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
# WSS 1.1 §7.3: wsse11:TokenType of a reference to an xenc:EncryptedKey.
TOKEN_TYPE_ENCRYPTED_KEY = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey"
KEY_IDENTIFIER_SKI = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
)

# --- WSS SwA profile 1.1 transforms and encrypted-data types ---------------------
SWA_ATTACHMENT_CONTENT_SIGNATURE_TRANSFORM = (
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Signature-Transform"
)
SWA_ATTACHMENT_COMPLETE_SIGNATURE_TRANSFORM = (
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Complete-Signature-Transform"
)
SWA_ATTACHMENT_CONTENT_ONLY = (
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Only"
)
SWA_ATTACHMENT_COMPLETE = "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Complete"
# WSS SwA profile 1.1 §5.5.2: the CipherReference transform of an encrypted attachment.
SWA_ATTACHMENT_CIPHERTEXT_TRANSFORM = (
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Ciphertext-Transform"
)
XENC_TYPE_CONTENT = "http://www.w3.org/2001/04/xmlenc#Content"
XENC_TYPE_ELEMENT = "http://www.w3.org/2001/04/xmlenc#Element"

# --- Algorithms -------------------------------------------------------------------
ALG_C14N_EXCL = "http://www.w3.org/2001/10/xml-exc-c14n#"
ALG_C14N_EXCL_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
ALG_C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ALG_C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
ALG_ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

ALG_DIGEST_SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ALG_DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ALG_DIGEST_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
ALG_DIGEST_SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

ALG_RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ALG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ALG_RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
ALG_RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ALG_EDDSA_ED25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"

ALG_AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
ALG_AES192_GCM = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
ALG_AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
ALG_AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
ALG_AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"

ALG_RSA_OAEP = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
ALG_RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
ALG_MGF1_SHA1 = "http://www.w3.org/2009/xmlenc11#mgf1sha1"
ALG_MGF1_SHA224 = "http://www.w3.org/2009/xmlenc11#mgf1sha224"
ALG_MGF1_SHA256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
ALG_MGF1_SHA384 = "http://www.w3.org/2009/xmlenc11#mgf1sha384"
ALG_MGF1_SHA512 = "http://www.w3.org/2009/xmlenc11#mgf1sha512"

# eDelivery AS4 2.0 (key agreement) — recognised, not yet implemented
ALG_X25519 = "http://www.w3.org/2021/04/xmldsig-more#x25519"
ALG_HKDF = "http://www.w3.org/2021/04/xmldsig-more#hkdf"
ALG_KW_AES128 = "http://www.w3.org/2001/04/xmlenc#kw-aes128"
ALG_KW_AES256 = "http://www.w3.org/2001/04/xmlenc#kw-aes256"
