"""The ``commarchive`` command line: one click group, verb-noun commands.

User errors print one line on stderr and exit 1. The group lives here and adds
the commands of its modules (one per command group; what they share is in
``common``); they never import the group or each other.
"""

from __future__ import annotations

from pathlib import Path

import click

from commarchive.cli import (
    audit,
    backup,
    cases,
    disclosures,
    evidence,
    holds,
    index,
    ingest,
    init,
    items,
    jobs,
    keys,
    ledger,
    models,
    purposes,
    quality,
    requests,
    serve,
    subjects,
    tls,
    users,
)
from commarchive.cli.common import Ctx


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              envvar="COMMARCHIVE_DATA_DIR", help="Archive data directory.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """commarchive: a sealed archive of customer e-mails and calls."""
    ctx.obj = Ctx(data_dir)


for _command in (
    init.init_cmd, serve.serve_cmd, users.users_group, ingest.ingest_cmd, keys.keys_group,
    audit.audit_group, index.reindex_cmd, index.search_cmd, ingest.transcribe_cmd,
    purposes.purposes_group, purposes.sweep_cmd, holds.holds_group, subjects.subjects_group,
    items.items_group, disclosures.disclosures_group, requests.requests_group,
    backup.backup_cmd, backup.restore_cmd, tls.tls_group, models.models_group,
    cases.cases_group,
    quality.quality_group,
    evidence.evidence_group,
    jobs.worker_cmd, jobs.jobs_group,
    ledger.ledger_group,
):
    main.add_command(_command)
