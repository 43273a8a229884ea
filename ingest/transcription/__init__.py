"""Transcription of recorded calls with vosk, off the ingest path.

Ingest marks a call ``pending``; ``worker`` (a polling pool inside ``serve``, and
the ``transcribe --pending`` backfill) reads its audio through the archive,
decodes and resamples it (``pcm``), runs one recogniser per channel with the
model ``discovery`` found (``engine``) and hands the ``transcript`` back to the
archive to seal and index.

Imports: ``archive`` (model, errors), ``ingest.audio`` (the decoder ingest uses, for
every recording format it takes) and ``ingest.errors``; never ``search_api`` or
``commarchive``. vosk is imported only when a ``Transcriber`` loads a model.
"""
