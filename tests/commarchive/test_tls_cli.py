"""``commarchive tls``: the README's CA commands, run as written, make working certificates."""

from __future__ import annotations

import re
import shlex
import socket
import ssl
import threading
from pathlib import Path

from ingest.tls import server_context
from tests.commarchive.cli.test_cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_DIR = "/etc/commarchive/tls"


def documented_commands() -> list[list[str]]:
    """The ``commarchive tls`` commands of the README's TLS section, continuations joined."""
    section = README.read_text(encoding="utf-8").split("## Encryption in transit (TLS)", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("commarchive tls")]


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> None:
    """One TLS handshake between the two contexts over a socket pair (raises if refused)."""
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(right, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    with client.wrap_socket(left, server_hostname=hostname) as tls:
        tls.sendall(b"x")
    thread.join(10)
    if errors:
        raise errors[0]


def test_the_documented_commands_make_a_ca_server_and_client_certificates(
    tmp_path: Path,
) -> None:
    commands = documented_commands()
    assert [c[:2] for c in commands] == [["tls", "make-ca"], ["tls", "issue-client"]]
    directory = tmp_path / "tls"
    outputs = [cli(*[str(directory) if a == DOCUMENTED_DIR else a for a in command]).stdout
               for command in commands]
    made = {p.name for p in directory.iterdir()}
    assert made == {"ca.pem", "ca.key", "server.pem", "server.key", "client-sbc-1.pem",
                    "client-sbc-1.key", "client-pbx-1.pem", "client-pbx-1.key",
                    "client-mx-1.pem", "client-mx-1.key", "client-sbc-2.pem",
                    "client-sbc-2.key"}
    assert all((directory / n).stat().st_mode & 0o777 == 0o600 for n in made if n.endswith(".key"))
    assert f"COMMARCHIVE_TLS_CERT={directory / 'server.pem'}" in outputs[0]
    assert re.search(r"client-sbc-2\.pem  sha256 [0-9a-f]{64}", outputs[1])

    # The server certificate is good for every --host, and mutual TLS admits the clients.
    server = server_context(directory / "server.pem", directory / "server.key",
                            client_ca=directory / "ca.pem")
    for host in ("archive.example.com", "192.0.2.10"):
        client = ssl.create_default_context(cafile=str(directory / "ca.pem"))
        client.load_cert_chain(directory / "client-sbc-2.pem", directory / "client-sbc-2.key")
        handshake(server, client, host)


def test_make_ca_never_overwrites_and_says_so_in_one_line(tmp_path: Path) -> None:
    cli("tls", "make-ca", str(tmp_path), "--host", "localhost")
    again = cli("tls", "make-ca", str(tmp_path), "--host", "localhost", check=False)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    missing = cli("tls", "issue-client", str(tmp_path / "nowhere"), "sbc", check=False)
    assert missing.returncode == 1 and "run commarchive tls make-ca first" in missing.stderr
