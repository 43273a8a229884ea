"""Ingest: the channels that turn the outside world into archive items.

Sub-packages mirror each other, one per channel: ``email/`` (SMTP journaling,
MIME parsing) and ``sip/`` (SIPREC recording server); beside them the drop
folder and the call-file entry (``dropfolder``, ``calls``), ``audio/`` (recognising
and decoding recordings in the formats PBXs write) and
``transcription/`` (vosk speech-to-text, run after ingest). Every exception
ingest raises derives from ``ingest.errors.IngestError``.

Dependency direction: keys <- archive <- ingest. Ingest imports ``archive`` (and,
through it, ``keys``); it never imports ``search_api`` or ``commarchive``, which
sit above it and choose the configuration (``commarchive.settings``).
"""
