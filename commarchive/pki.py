"""A small private CA for a self-hosted installation: ``commarchive tls make-ca``.

One command makes what the README's TLS setup needs: a CA, the archive's
server certificate (for the names and addresses it is reached at: HTTPS, SIP
over TLS, SMTP STARTTLS) and one client certificate per machine that delivers
recordings (SBC, PBX, mail server), whose SHA-256 fingerprints can go into
``COMMARCHIVE_TLS_CLIENT_FINGERPRINTS``. Keys are EC P-256, written 0600 and
never overwritten; the CA's key is what issues further client certificates
(``commarchive tls issue-client``), so keep it offline once they are made.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CA_CERT", "CA_KEY", "Issued", "issue_client", "make_ca"]

CA_CERT: Final = "ca.pem"
CA_KEY: Final = "ca.key"
SERVER_CERT: Final = "server.pem"
SERVER_KEY: Final = "server.key"
CA_DAYS: Final = 3650
LEAF_DAYS: Final = 825  # what browsers accept for a leaf certificate at most


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate written to ``cert`` with its key at ``key``."""

    name: str
    cert: Path
    key: Path
    fingerprint: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "commarchive"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_file(path: Path, data: bytes, mode: int) -> None:
    """Write a file that must not exist yet (a key is never overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write(directory: Path, stem: str, cert: x509.Certificate,
           key: ec.EllipticCurvePrivateKey) -> Issued:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    for path in (cert_path, key_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; refusing to overwrite it")
    _new_file(key_path, key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()), 0o600)
    _new_file(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Issued(stem, cert_path, key_path, cert.fingerprint(hashes.SHA256()).hex())


def _leaf(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, common_name: str,
          extensions: Iterable[tuple[x509.ExtensionType, bool]]
          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(ca_key, hashes.SHA256()), key


def _subject_alt_names(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_ca(directory: Path, hosts: Iterable[str], clients: Iterable[str] = ()
            ) -> tuple[Issued, Issued, list[Issued]]:
    """A new CA in ``directory``, a server certificate for ``hosts``, one per client."""
    hosts = list(hosts)
    if not hosts:
        raise ValueError("name at least one --host the archive is reached at")
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CA_KEY).exists():
        raise FileExistsError(f"{directory / CA_KEY} exists; refusing to overwrite a CA")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name("commarchive private CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca = _write(directory, "ca", ca_cert, ca_key)
    cert, key = _leaf(ca_cert, ca_key, hosts[0], [
        (_subject_alt_names(hosts), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ])
    server = _write(directory, "server", cert, key)
    return ca, server, [issue_client(directory, client) for client in clients]


def issue_client(directory: Path, name: str) -> Issued:
    """A client certificate ``client-NAME`` from the CA in ``directory``."""
    if not name or not all(c.isalnum() or c in "-._" for c in name):
        raise ValueError(f"client name {name!r}: use letters, digits, '-', '.', '_'")
    try:
        ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        loaded = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), None)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no CA in {directory} ({exc.filename} missing): "
                                "run commarchive tls make-ca first") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / CA_KEY} is not an EC key made by make-ca")
    cert, key = _leaf(ca_cert, loaded, name, [
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])
    return _write(directory, f"client-{name}", cert, key)
