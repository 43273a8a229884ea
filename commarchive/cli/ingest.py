"""Content from the command line: ``ingest`` a file, ``transcribe`` the backlog."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.command("ingest")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--channel", type=click.Choice(["email", "call"]), default=None,
              help="Default: call for a recording (WAV, MP3, FLAC, Ogg/Opus; recognised "
                   "from its bytes), email otherwise.")
@click.option("--meta", "sidecar", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON sidecar for a call (call_id, from, to, agent, direction, start).")
@click.option("--force", is_flag=True,
              help="Archive a file that is neither an e-mail nor a recording anyway, as an "
                   "unparsed message only privacy and legal staff can read.")
@pass_ctx
@user_errors
def ingest_cmd(
    ctx: Ctx, path: Path, channel: str | None, sidecar: Path | None, force: bool
) -> None:
    """Archive an RFC 5322 message or a call recording; prints the item id.

    Anything else is refused (exit code 1) unless --force; a file stored unparsed
    is reported on stderr.
    """
    from commarchive.files import ingest_file

    data = path.read_bytes()
    with ctx.archive() as arc:
        done = ingest_file(arc, path.name, data, channel=channel, force=force,
                           sidecar=sidecar.read_bytes() if sidecar else None, actor="cli")
    result = done.result
    if not result.created:
        click.echo(f"already archived as {result.item_id}"
                   f" ({result.merged_parties} new parties merged)", err=True)
    if done.unparsed_reason is not None:
        click.echo(f"unparsed: {path.name} is stored byte-exact as item {result.item_id} but "
                   f"not parsed ({done.unparsed_reason}); only privacy and legal staff can "
                   "read it", err=True)
    click.echo(result.item_id)


@click.command("transcribe")
@click.option("--pending", is_flag=True, required=True,
              help="Transcribe every call still waiting for a transcript, or for a model.")
@click.option("--language", default=None, metavar="LANG",
              help="Only calls in LANG (e.g. after 'models add LANG'), and calls whose "
                   "language is still unknown.")
@click.option("--model", type=click.Path(path_type=Path, file_okay=False, exists=True),
              envvar="COMMARCHIVE_VOSK_MODEL", help="vosk model directory (fallback model).")
@click.option("--workers", type=click.IntRange(min=1), default=1)
@pass_ctx
@user_errors
def transcribe_cmd(
    ctx: Ctx, pending: bool, language: str | None, model: Path | None, workers: int,
) -> None:
    """Backfill transcripts: calls archived while no model was available, and calls
    marked no_model or language_unknown, routed to the model of their language."""
    from archive.language import language_code
    from ingest.transcription.worker import backfill

    settings = ctx.settings()
    if model is not None:
        settings.transcribe.vosk_model = model
    router = settings.transcribe.router()
    if not router.enabled:
        raise ValueError("no vosk model: add one with 'commarchive models add LANG ZIP', set "
                         "COMMARCHIVE_VOSK_MODEL, or install a vosk-model-* package")
    if language is not None:
        language = language_code(language)
        if language not in router.models:
            raise ValueError(f"no model for language {language!r}: add one with "
                             f"'commarchive models add {language} ZIP'")
    with ctx.archive() as arc:

        def candidates(limit: int) -> list[str]:
            return arc.awaiting_transcripts(language=language, limit=limit)

        total = len(candidates(1_000_000))
        with click.progressbar(length=total, label="transcribing", file=sys.stderr) as bar:
            seen = 0

            def advance(done: int, _total: int) -> None:
                nonlocal seen
                bar.update(done - seen)
                seen = done

            counts = backfill(arc, router, advance, workers=workers, candidates=candidates)
    click.echo(json.dumps({"done": counts.done, "failed": counts.failed,
                           "retry": counts.retry, "gone": counts.gone,
                           "no_model": counts.no_model,
                           "language_unknown": counts.language_unknown}))
