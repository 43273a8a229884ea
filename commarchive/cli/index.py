"""The search index from the command line: ``reindex`` and ``search``."""

from __future__ import annotations

import json
import sys

import click

from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.command("reindex")
@pass_ctx
@user_errors
def reindex_cmd(ctx: Ctx) -> None:
    """Rebuild the search index from the catalog and the sealed content."""
    with ctx.archive() as arc:
        total = len(arc.item_ids())
        with click.progressbar(length=total, label="reindexing", file=sys.stderr) as bar:
            done = arc.reindex(progress=bar.update)
    click.echo(json.dumps({"reindexed": done}))


@click.command("search")
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
