"""A throwaway certificate authority for TLS tests, made with ``cryptography`` in the test.

``TestCa(tmp_path).server()`` writes a CA certificate and a server certificate
for 127.0.0.1 / localhost; ``client()`` issues client certificates; every file
is PEM on disk, because that is what the server settings take.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """One certificate and its key on disk, and the SHA-256 fingerprint of the certificate."""

    cert: Path
    key: Path
    fingerprint: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)


class TestCa:
    """A CA in ``directory`` that issues server and client certificates."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, directory: Path, name: str = "commarchive test CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        slug = name.replace(" ", "-")
        self.cert_path = directory / f"{slug}.pem"
        self.cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def _issue(self, common_name: str, *, server: bool, days: int = 1) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        slug = common_name.replace(" ", "-")
        cert_path = self.directory / f"{slug}.pem"
        key_path = self.directory / f"{slug}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return Issued(cert_path, key_path, cert.fingerprint(hashes.SHA256()).hex())

    def server(self, common_name: str = "localhost") -> Issued:
        return self._issue(common_name, server=True)

    def client(self, common_name: str) -> Issued:
        return self._issue(common_name, server=False)

    def client_context(self, client: Issued | None = None) -> ssl.SSLContext:
        """What a client that trusts this CA uses (with ``client``'s certificate, if given)."""
        context = ssl.create_default_context(cafile=str(self.cert_path))
        if client is not None:
            context.load_cert_chain(client.cert, client.key)
        return context
