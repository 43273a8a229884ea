"""E-mail journaling ingest: SMTP in, one sealed item per message out.

The path of one message::

    session.IngestSMTP      admission (allowlist, connection cap, DATA slots)
    smtp_data.read_data     the DATA bytes, read in bulk
    smtp (DATA handler)     builds the envelope; answers 250 only once stored
    item.build_item         mime.parse_with_timeout -> parts.PartWalker -> NewItem
                            (in a ``workers`` process or a thread; never raises)
    archive.group_commit    prepare, commit in a group, index

Modules: ``config`` (``SmtpConfig``), ``smtp`` (``start_smtp_server``),
``session``, ``smtp_data``, ``mime``, ``parts``, ``parsed`` (the parse result and
``MimeLimits``), ``item``, ``htmltext`` and ``workers`` (the worker process pool).
Exceptions live in ``ingest.errors``.

Imports: ``archive`` (model, errors, group commit, service types) and
``ingest.errors``; never ``ingest.sip``, ``search_api`` or ``commarchive``.
Nothing is re-exported here, so importing one module (the settings registry
reads ``config``) does not load aiosmtpd.
"""
