"""``commarchive tls``: a private CA for HTTPS, SIP over TLS and SMTP (``commarchive.pki``)."""

from __future__ import annotations

from pathlib import Path

import click

from commarchive import pki
from commarchive.cli.common import user_errors


@click.group("tls")
def tls_group() -> None:
    """Certificates for the encrypted listeners and the machines that deliver recordings."""


def _report(issued: pki.Issued) -> None:
    click.echo(f"{issued.cert}  sha256 {issued.fingerprint}")


@tls_group.command("make-ca")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--host", "hosts", multiple=True, required=True,
              help="A name or address the archive is reached at (repeat).")
@click.option("--client", "clients", multiple=True,
              help="A machine that delivers recordings: SBC, PBX, mail server (repeat).")
@user_errors
def make_ca_cmd(directory: Path, hosts: tuple[str, ...], clients: tuple[str, ...]) -> None:
    """Make a CA, a server certificate for --host, and a client certificate per --client.

    Prints each certificate with its SHA-256 fingerprint, then the settings to use.
    Never overwrites a file; keep ca.key offline once the certificates are issued.
    """
    ca, server, issued = pki.make_ca(directory, hosts, clients)
    for one in (ca, server, *issued):
        _report(one)
    click.echo(f"COMMARCHIVE_TLS_CERT={server.cert}")
    click.echo(f"COMMARCHIVE_TLS_KEY={server.key}")
    click.echo(f"COMMARCHIVE_TLS_CLIENT_CA={ca.cert}")


@tls_group.command("issue-client")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.argument("name")
@user_errors
def issue_client_cmd(directory: Path, name: str) -> None:
    """Issue a client certificate NAME from the CA in DIRECTORY."""
    _report(pki.issue_client(directory, name))
