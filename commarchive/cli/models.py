"""``commarchive models``: the vosk model of each language (``add``, ``list``).

Adding a model checks that vosk loads it before it is registered, so a
truncated download is refused here rather than at the first call in that
language. ``transcribe --pending --language LANG`` then transcribes the calls
that were waiting for it.
"""

from __future__ import annotations

from pathlib import Path

import click

from commarchive.cli.common import Ctx, echo_json, pass_ctx, user_errors


@click.group("models")
def models_group() -> None:
    """Speech models per language (vosk zips from alphacephei.com/vosk/models)."""


@models_group.command("add")
@click.argument("language")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@pass_ctx
@user_errors
def models_add_cmd(ctx: Ctx, language: str, source: Path) -> None:
    """Unpack (a .zip) or take (a directory) a vosk model for LANGUAGE and register it."""
    from ingest.transcription.engine import Transcriber
    from ingest.transcription.registry import add_model, default_models_dir

    settings = ctx.settings().transcribe
    models_dir = settings.models_dir or default_models_dir()
    click.echo(f"adding {source} for {language!r} under {models_dir} (loading it once)",
               err=True)
    entry = add_model(models_dir, language, source, check=Transcriber)
    echo_json({"language": entry.language, "name": entry.name, "version": entry.version,
               "sha256": entry.sha256, "path": entry.path})


@models_group.command("list")
@pass_ctx
@user_errors
def models_list_cmd(ctx: Ctx) -> None:
    """The model each language is transcribed with, and where it was configured."""
    from ingest.transcription.registry import (
        default_models_dir,
        language_models,
        read_registry,
    )

    settings = ctx.settings().transcribe
    models_dir = settings.models_dir or default_models_dir()
    registered = {e.language: e for e in read_registry(models_dir)}
    rows = []
    for language, path in sorted(language_models(
            settings.models, settings.models_dir, settings.vosk_model).items()):
        entry = registered.get(language)
        if language in settings.models:
            origin = "settings"
        elif entry is not None:
            origin = "registry"
        else:
            origin = "installed"
        rows.append({
            "language": language, "path": str(path), "origin": origin,
            "name": entry.name if entry and origin == "registry" else path.name,
            "version": entry.version if entry and origin == "registry" else None,
            "sha256": entry.sha256 if entry and origin == "registry" else None,
        })
    echo_json({"models_dir": str(models_dir), "models": rows})
