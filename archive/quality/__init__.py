"""The quality team's workspace: scorecards, reviews, comments, queues, statistics.

An operation over the archive facade (the top layer of ``archive/``, beside
``retention``, ``rights/`` and ``holds``): it imports ``archive.service`` and
lower, never ``ingest``, ``search_api`` or ``commarchive``.

- its catalog tables are ``archive.quality_tables`` (layer 2, on the shared metadata);
- ``scorecards``: versioned forms and how a review's score is computed;
- ``reviews``: reviews and moment-anchored comments, sealed under the item's
  DEK through the ``quality`` purpose (like transcripts), audited, gone with
  the item; ``quality_aggregates`` keeps what statistics need without item ids;
- ``agents``: who "the agent" of an item is, and the ``agent`` role's links;
- ``sampling``, ``monitoring``, ``queue``: what gets reviewed and by whom;
- ``backfill``: monitoring policies over old items as a stored request (its table in
  ``backfill_tables``) that a ``backfill_monitor`` job runs in resumable batches;
- ``stats``: trends, failure rates and done-vs-planned from the aggregates;
- ``filters``: the search's agent, has-review and queue filters, resolved in the
  catalog to identifiers and item ids at search time (never copied into the index).

Every error is an ``archive.errors.ArchiveError`` (mostly ``InvalidRequest``,
naming the item and the reason).
"""
