"""The archive core: a vault of sealed items and the rooms built on it.

May import ``keys`` (and third-party libraries); never ``ingest``,
``search_api`` or ``commarchive``. Layers, lowest first (a module imports only
its own layer and those below it):

    model, errors, config, tagging,        the domain: items, parties, purposes, errors;
    parties, language, metrics             who is internal, addresses and numbers normalised;
                                           an item's language (rules, e-mail text);
                                           the Prometheus counters every layer bumps
    catalog, audit, users, store/, index/  state, the hash-chained audit log, the seams
    training_tables                        (and the tables of training sets)
    quality_tables                         (and the quality workspace's tables)
    sessions, keyring_store, cluster,      browser sessions, the sealed keyring, digests of
    jobs                                   the shared settings, the job queue: in the
                                           catalog the nodes share
    anonymise, redaction_scan, vcon        derived views (trainer text/audio, vCon export);
                                           where redaction patterns can start
    vault                                  keys and sealed bytes: seal/unseal, records,
                                           shredding, the one audited write path
    standing                               subject holds/restrictions that cover later items
    indexing, outbox                       the one builder of index documents; reindex;
                                           background indexing after the acknowledgement
    intake, reading, transcripts           the rooms: new items, reads and search, transcripts
    group_commit                           the intake pipeline for concurrent deliveries
    service                                ``Archive``: the facade the other packages use
    retention, rights/, holds, training/,  operations over the facade: sweep and purge,
    quality/                               data-subject rights, legal holds, trainers'
                                           anonymised training sets, the quality team's
                                           reviews, queues and statistics

Every error derives from ``archive.errors.ArchiveError``. See
docs/architecture.md for the map and the path of an e-mail and a call.
"""
