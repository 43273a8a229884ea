"""Run an archive: ``serve`` (``init`` creates one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.command("serve")
@click.option("--http", "http",
              help="HOST:PORT for the HTTP API (default 127.0.0.1:8000), or off.")
@click.option("--https", "https",
              help="HOST:PORT for the API over HTTPS; needs COMMARCHIVE_TLS_CERT and _TLS_KEY.")
@click.option("--smtp", help="HOST:PORT for SMTP journaling ingest (e.g. 127.0.0.1:2525).")
@click.option("--sip", help="HOST:PORT for the SIPREC recording server (e.g. 127.0.0.1:5060).")
@click.option("--sip-tls", "sip_tls",
              help="HOST:PORT (or HOST, port 5061) for SIP over TLS; needs "
                   "COMMARCHIVE_TLS_CERT and COMMARCHIVE_TLS_KEY.")
@click.option("--drop-folder", type=click.Path(path_type=Path, file_okay=False),
              help="Watch this directory for PBX recordings (WAV + JSON sidecar).")
@pass_ctx
@user_errors
def serve_cmd(ctx: Ctx, http: str | None, https: str | None, smtp: str | None,
              sip: str | None, sip_tls: str | None, drop_folder: Path | None) -> None:
    """Run the HTTP API, and the SMTP / SIP / drop-folder ingesters when asked."""
    from commarchive.server import serve

    overrides: dict[str, Any] = {}
    if http:
        overrides["http"] = http
    if https:
        overrides["https"] = https
    if smtp:
        overrides["smtp"] = smtp
    if sip or sip_tls:
        overrides["sip"] = {k: v for k, v in (("listen", sip), ("tls_listen", sip_tls)) if v}
    if drop_folder:
        overrides["drop_folder"] = drop_folder
    serve(ctx.settings(**overrides))
