"""Training sets: anonymised samples of calls and e-mails handed out to trainers.

Built over the archive facade (an operation like ``retention`` and ``rights``);
may import ``archive.service`` and the archive's lower modules, never
``archive.rights`` or ``archive.holds``. What is personal data is decided by the
anonymised view (``archive.anonymise``) alone; this package only names it.

    pseudonyms   consistent names per set, keyed by the set's secret (HMAC)
    surrogates   realistic stand-ins of the right shape, drawn from that key
    render       one item through the view and the set's pseudonyms
    sets         criteria, sampling, the set in the catalog (``archive.training_tables``)
    export       preview, and the ZIP: bleeped audio, texts, manifest, datasheet
    lifecycle    expiry with the items' retention; erasure removes or lists
"""

from __future__ import annotations

from archive.training.export import RenderedSet, export_zip, preview, render_set
from archive.training.lifecycle import expire_sets, install, remove_gone
from archive.training.sets import (
    Criteria,
    SetStatus,
    Stratify,
    TrainingSet,
    build_set,
    delete_set,
    get_set,
    list_sets,
)

__all__ = [
    "Criteria",
    "RenderedSet",
    "SetStatus",
    "Stratify",
    "TrainingSet",
    "build_set",
    "delete_set",
    "expire_sets",
    "export_zip",
    "get_set",
    "install",
    "list_sets",
    "preview",
    "remove_gone",
    "render_set",
]
