"""The anonymised view of an item: everything a trainer sees of it comes from here.

``AnonymisedView`` is the one object that turns an item into what an anonymised
purpose (training) may show: the e-mail text, the transcript (utterances AND
words, so the two cannot disagree), the bleep spans of the audio (the times of
exactly the redacted words), search snippets and titles, the details (attachment
names included), rectification notes and the parties. Reading, search, the item
schema and the index's redacted copy (``archive.indexing``) all call it, so no
endpoint can show what another withholds.

Redaction finds spans in the original text, first the item's own parties (the
same person gets the same token within an item, ``[CUSTOMER-1]``, so a trainer
can still follow who said what), then structured identifiers: e-mail addresses,
IBANs, street addresses, postcodes, dates, national numbers (validated with
python-stdnum), phone numbers, numbers spoken as words ("zes twee drie ...",
"six two three ...", which digit patterns alone miss), and names after a title
or an introduction ("mevrouw De Vries", "my name is ..."). Then the recognisers of
the item's language (``recognisers``) add what the patterns miss: third parties'
names, numbers, dates, addresses and e-mail addresses said aloud, UK NI numbers,
the operator's customer numbers. Every span carries one of ``CATEGORIES``.
Precision and recall per category are measured by ``bench/bench_anonymise.py``.

The package: ``patterns`` (the written patterns and where each can start),
``recognisers`` (one small module per kind), ``categories``, ``redactor``
(``Redactor`` and ``Span``), ``view`` (``AnonymisedView``) and ``audio`` (bleep
or silence). ``configure`` takes the operator's settings (``settings.anonymise``).
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.anonymise import recognisers
from archive.anonymise.audio import (
    BLEEP_AMPLITUDE,
    BLEEP_HZ,
    BLEEP_PAD_S,
    WAV_HEAD_BYTES,
    AudioRedaction,
    PcmLayout,
    audio_redaction,
    bleep_slice,
    bleep_wav,
    configure_audio,
    pcm_layout,
)
from archive.anonymise.categories import CATEGORIES
from archive.anonymise.patterns import looks_identifying
from archive.anonymise.redactor import Redactor, Span
from archive.anonymise.view import WITHHELD_DETAILS, WITHHELD_SECTIONS, AnonymisedView

__all__ = ["BLEEP_AMPLITUDE", "BLEEP_HZ", "BLEEP_PAD_S", "CATEGORIES", "WAV_HEAD_BYTES",
           "WITHHELD_DETAILS", "WITHHELD_SECTIONS", "AnonymisedView", "AudioRedaction",
           "PcmLayout", "Redactor", "Span", "audio_redaction", "bleep_slice", "bleep_wav",
           "configure", "configure_audio", "looks_identifying", "pcm_layout", "recognisers"]


def configure(customer_numbers: Sequence[str] = (), audio: str = "bleep",
              audio_margin_s: float = BLEEP_PAD_S) -> None:
    """The operator's settings of anonymisation (``settings.anonymise``), set once by the
    composition root: customer-number formats, bleep or silence, and the margin."""
    recognisers.configure(customer_numbers=customer_numbers)
    if audio not in ("bleep", "silence"):
        raise ValueError(f"audio redaction {audio!r} is neither 'bleep' nor 'silence'")
    configure_audio("bleep" if audio == "bleep" else "silence", audio_margin_s)
