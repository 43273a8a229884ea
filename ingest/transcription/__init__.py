"""Transcription of recorded calls with vosk, off the ingest path.

Ingest marks a call ``pending``; ``worker`` (a polling pool inside ``serve``, and
the ``transcribe --pending`` backfill) reads its audio through the archive,
decodes and resamples it (``pcm``), picks the model of the call's language or
none (``routing``, over the models per language of settings and the
``registry``; the installed package via ``discovery``), runs one recogniser per
channel (``engine``) and hands the ``transcript`` back to the archive to seal
and index, or marks the call ``no_model`` / ``language_unknown``.

Imports: ``archive`` (model, errors), ``ingest.audio`` (the decoder ingest uses, for
every recording format it takes) and ``ingest.errors``; never ``search_api`` or
``commarchive``. vosk is imported only when a ``Transcriber`` loads a model.
"""
