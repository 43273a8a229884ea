"""Build call items: one place that turns audio plus who-was-on-the-call into a NewItem.

Used by the SIPREC server, the PBX drop folder, the HTTP upload and the CLI, so
a call is findable the same way whichever path it came by: every participant's
number in several normalisations (E.164, digits, national), SIP URI and display
name go into a ``parties`` section; the channel-to-participant map and the
duration go into the item's details. Who is on the company's side is decided
by :mod:`archive.parties` from the archive's configuration.

A PBX file (a recording plus JSON sidecar) has one way in, whoever hands it over::

    ingest_call_file(archive, audio, sidecar, source="dropfolder", actor=...)

The same audio uploaded again is one item: a sidecar with the same call id (or
none) merges its new parties into it; one with another call id is refused
(``CallInputError``), since the same audio cannot be two calls. A channel map
names whose voice is on which channel; a party it does not name gets no
channel, so a mono ``customer`` recording is never labelled the agent's.

The recording may be in any format :func:`ingest.audio.decode_audio` recognises
(PCM, G.711, GSM 6.10 and IMA ADPCM WAV, MP3, FLAC, Ogg/Opus). The file is kept
byte-exact as the item's original, in its own media type; when that is not
already the canonical 16-bit PCM WAV of its audio, that WAV is derived and sealed
beside it as the ``playback`` part, which the browser player streams and the
trainer's bleeping edits (Chromium plays no GSM or ADPCM). Transcription decodes
the original itself.

Exceptions (see :mod:`ingest.errors`)::

    CallInputError     a sidecar or audio file that cannot become a call item
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from archive.config import ArchiveConfig
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    IngestResult,
    ItemStatus,
    NewItem,
    Party,
    PartyRole,
    Section,
    Side,
)
from archive.parties import PartyAddress, is_internal, normalise_party_address
from archive.vault import PART_PLAYBACK
from ingest.audio import AudioError, Decoded, decode_audio, write_wav
from ingest.errors import IngestError

if TYPE_CHECKING:
    from archive.service import Archive

MAX_SIDECAR_BYTES: Final = 64 * 1024


class CallInputError(IngestError, ValueError):
    """Input that cannot become a call item; ``reason`` is safe to show (no content)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)
class CallParticipant:
    address: str | None
    name: str | None = None
    role: PartyRole = PartyRole.PARTICIPANT
    channel_index: int | None = None
    #: Forced side (e.g. the sidecar names the agent); None = decide from the archive's rules.
    side: Side | None = None


@dataclass(slots=True)
class CallRecording:
    """Audio plus who spoke on which channel: what every call ingest path produces."""

    source: str
    sample_rate: int
    channels: list[bytes]
    started_at: datetime
    participants: list[CallParticipant]
    channel_labels: list[str] = field(default_factory=list)
    ended_at: datetime | None = None
    call_id: str | None = None
    dedupe_key: str | None = None
    #: Groups the recordings of one call (a PBX file's call id); catalog metadata.
    thread_key: str | None = None
    direction: Direction | None = None
    status: ItemStatus = ItemStatus.OK
    status_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    extra_parts: dict[str, bytes] = field(default_factory=dict)
    #: The file as it arrived (kept byte-exact) and its media type; None = the
    #: channels are the original (SIPREC builds its own WAV).
    original: bytes | None = None
    content_type: str = "audio/wav"

    @property
    def duration_s(self) -> float:
        frames = max((len(c) // 2 for c in self.channels), default=0)
        return frames / self.sample_rate if self.sample_rate else 0.0


def _direction(parties: Sequence[Party]) -> Direction:
    caller = next((p for p in parties if p.role is PartyRole.CALLER), None)
    callee = next((p for p in parties if p.role is PartyRole.CALLEE), None)
    sides = {p.side for p in parties}
    if sides == {Side.AGENT}:
        return Direction.INTERNAL
    if caller and caller.side is Side.AGENT and (callee is None or callee.side is Side.CUSTOMER):
        return Direction.OUTBOUND
    if caller and caller.side is Side.CUSTOMER:
        return Direction.INBOUND
    return Direction.UNKNOWN


def build_call_item(rec: CallRecording, config: ArchiveConfig) -> NewItem:
    """The NewItem for a call: stereo/multichannel 16-bit WAV, parties, search text, details."""
    parties: list[Party] = []
    search_terms: list[str] = []
    channel_rows: list[dict[str, Any]] = []
    for part in rec.participants:
        addr = normalise_party_address(config, part.address) if part.address else None
        if part.side is not None:
            side = part.side
        elif addr is not None:
            side = Side.AGENT if is_internal(config, addr) else Side.CUSTOMER
        else:
            side = Side.UNKNOWN
        if addr is None and part.name:
            addr = PartyAddress(AddressKind.NAME, part.name, (part.name,))
        if addr is None:
            continue
        parties.append(
            Party(
                role=part.role,
                address=addr.address,
                kind=addr.kind,
                name=part.name,
                side=side,
                channel_index=part.channel_index,
            )
        )
        if part.name:
            search_terms.append(part.name)
        search_terms.extend(addr.variants)
        if part.address and part.address not in addr.variants:
            search_terms.append(part.address)
    for index in range(len(rec.channels)):
        label = rec.channel_labels[index] if index < len(rec.channel_labels) else str(index)
        owner = next((p for p in parties if p.channel_index == index), None)
        channel_rows.append(
            {
                "index": index,
                "label": label,
                "participant": (owner.name or owner.address) if owner else None,
                "aor": owner.address if owner else None,
                "side": owner.side.value if owner else Side.UNKNOWN.value,
            }
        )
    unique_terms = list(dict.fromkeys(t for t in search_terms if t))
    duration = round(rec.duration_s, 3)
    details = {
        **rec.details,
        "channels": channel_rows,
        "duration_s": duration,
        "sample_rate": rec.sample_rate,
        "source": rec.source,
    }
    if rec.call_id:
        details.setdefault("call_id", rec.call_id)
    ended_at = rec.ended_at or rec.started_at + timedelta(seconds=duration)
    wav = write_wav(rec.sample_rate, rec.channels)
    original, content_type, extra_parts = wav, "audio/wav", dict(rec.extra_parts)
    if rec.original is not None:
        original, content_type = rec.original, rec.content_type
        if original != wav:
            extra_parts[PART_PLAYBACK] = wav
    return NewItem(
        channel=Channel.CALL,
        original=original,
        content_type=content_type,
        source=rec.source,
        started_at=rec.started_at,
        ended_at=ended_at,
        direction=rec.direction or _direction(parties),
        parties=parties,
        status=rec.status,
        status_reason=rec.status_reason,
        dedupe_key=rec.dedupe_key,
        thread_key=rec.thread_key,
        details=details,
        sections=[Section(kind="parties", text="\n".join(unique_terms))] if unique_terms else [],
        extra_parts=extra_parts,
        transcribe=True,
    )


# -- PBX files: recording + JSON sidecar (drop folder, HTTP upload, CLI) --------


@dataclass(frozen=True, slots=True)
class Sidecar:
    call_id: str | None
    from_: str | None
    to: str | None
    agent: str | None
    direction: Direction | None
    start: datetime
    from_name: str | None = None
    to_name: str | None = None
    agent_name: str | None = None
    channels: tuple[str, ...] = ()
    #: The PBX queue the call came through (language rules can match it).
    queue: str | None = None


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise CallInputError(f"sidecar field {key!r} must be a string")
    text = str(value).strip()
    return text or None


def parse_sidecar(raw: bytes | str | dict[str, Any]) -> Sidecar:
    """Read the PBX's JSON sidecar: call_id, from, to, agent, direction, start (ISO 8601),
    and optionally queue."""
    if isinstance(raw, dict):
        data = raw
    else:
        if len(raw) > MAX_SIDECAR_BYTES:
            raise CallInputError("sidecar too large")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise CallInputError("sidecar is not valid JSON") from None
    if not isinstance(data, dict):
        raise CallInputError("sidecar must be a JSON object")
    start_text = _opt_str(data, "start")
    if start_text is None:
        raise CallInputError("sidecar lacks 'start'")
    try:
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    except ValueError:
        raise CallInputError("sidecar 'start' is not an ISO 8601 time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    direction_text = _opt_str(data, "direction")
    direction: Direction | None = None
    if direction_text:
        try:
            direction = Direction(direction_text.lower())
        except ValueError:
            raise CallInputError("sidecar 'direction' must be inbound/outbound/internal") from None
    channels_raw = data.get("channels") or []
    if not isinstance(channels_raw, list) or not all(isinstance(c, str) for c in channels_raw):
        raise CallInputError("sidecar 'channels' must be a list of strings")
    sidecar = Sidecar(
        call_id=_opt_str(data, "call_id"),
        from_=_opt_str(data, "from"),
        to=_opt_str(data, "to"),
        agent=_opt_str(data, "agent"),
        direction=direction,
        start=start.astimezone(UTC),
        from_name=_opt_str(data, "from_name"),
        to_name=_opt_str(data, "to_name"),
        agent_name=_opt_str(data, "agent_name"),
        channels=tuple(channels_raw),
        queue=_opt_str(data, "queue"),
    )
    if sidecar.from_ is None and sidecar.to is None:
        raise CallInputError("sidecar names neither 'from' nor 'to'")
    return sidecar


def recording_from_file(
    wav: bytes, sidecar: Sidecar, *, source: str, config: ArchiveConfig
) -> CallRecording:
    """A PBX recording (any format :func:`decode_audio` knows, mono or more channels)
    plus its sidecar; an undecodable one is refused with its format and the reason."""
    try:
        decoded: Decoded = decode_audio(wav)
    except AudioError as exc:
        raise CallInputError(f"audio: {exc}") from None
    audio = decoded.audio
    nch = len(audio.channels)
    # Which party speaks on which channel: the sidecar may say; else stereo = from, to.
    mapping = list(sidecar.channels) or (["from", "to"] if nch == 2 else [])
    if mapping and len(mapping) != nch:
        raise CallInputError("sidecar 'channels' does not match the audio's channel count")

    def channel_of(key: str, address: str | None, side: Side | None) -> int | None:
        """The channel the map gives this party; a party the map does not name has
        none (a mono ``customer`` channel is never the agent's too)."""
        if side is None and address is not None:
            addr = normalise_party_address(config, address)
            side = Side.AGENT if is_internal(config, addr) else Side.CUSTOMER
        for index, name in enumerate(mapping):
            if name in (key, address) or (name == "agent" and side is Side.AGENT):
                return index
            if name == "customer" and side is Side.CUSTOMER:
                return index
        return 0 if nch == 1 and not mapping else None

    agent = sidecar.agent
    from_side = to_side = None
    from_addr = normalise_party_address(config, sidecar.from_) if sidecar.from_ else None
    to_addr = normalise_party_address(config, sidecar.to) if sidecar.to else None
    if agent:
        agent_addr = normalise_party_address(config, agent)
        if from_addr and agent_addr.address == from_addr.address:
            from_side, to_side = Side.AGENT, Side.CUSTOMER
        elif to_addr and agent_addr.address == to_addr.address:
            from_side, to_side = Side.CUSTOMER, Side.AGENT
    if from_side is None and sidecar.direction is Direction.INBOUND:
        from_side, to_side = Side.CUSTOMER, Side.AGENT
    elif from_side is None and sidecar.direction is Direction.OUTBOUND:
        from_side, to_side = Side.AGENT, Side.CUSTOMER
    participants = []
    for key, address, name, role, side in (
        ("from", sidecar.from_, sidecar.from_name, PartyRole.CALLER, from_side),
        ("to", sidecar.to, sidecar.to_name, PartyRole.CALLEE, to_side),
    ):
        if address is None:
            continue
        if name is None and side is Side.AGENT:
            name = sidecar.agent_name
        participants.append(
            CallParticipant(
                address,
                name=name,
                role=role,
                channel_index=channel_of(key, address, side),
                side=side,
            )
        )
    labels = mapping or ["mixed"] * nch
    digest = hashlib.sha256(wav).hexdigest()
    details: dict[str, Any] = {"file_sha256": digest}
    if agent:
        details["agent"] = agent
    if sidecar.queue:
        details["queue"] = sidecar.queue
    return CallRecording(
        source=source,
        sample_rate=audio.sample_rate,
        channels=audio.channels,
        started_at=sidecar.start,
        participants=participants,
        channel_labels=labels,
        call_id=sidecar.call_id,
        dedupe_key=f"file:{digest}",
        thread_key=f"call:{sidecar.call_id}" if sidecar.call_id else None,
        direction=sidecar.direction,
        details={**details, "audio_format": decoded.format.name},
        original=wav,
        content_type=decoded.format.media_type,
    )


# -- the one way in for a call file (drop folder, HTTP upload, CLI) ------------------


@dataclass(frozen=True, slots=True)
class CallFileResult:
    """The archive's answer for a call file, plus what its audio held."""

    ingest: IngestResult
    #: Seconds of audio, to the millisecond.
    duration_s: float
    channels: int


def ingest_call_file(
    archive: Archive,
    audio: bytes | Path,
    sidecar: bytes | None,
    *,
    source: str,
    actor: str,
) -> CallFileResult:
    """Validate a PBX recording and its JSON sidecar, build the call item, ingest it.

    The sidecar is read first, so a bad one costs no audio read when ``audio``
    is a path. ``sidecar=None`` (a bare WAV from the command line) gives a call
    dated now with no named parties. Input that cannot become a call raises
    :class:`CallInputError` with a reason safe to show; the archive's own
    errors (``TemporaryFailure``, ...) pass through for the caller to handle.
    The item is durable when this returns.
    """
    if sidecar is None:
        info = Sidecar(
            call_id=None, from_=None, to=None, agent=None, direction=None, start=datetime.now(UTC)
        )
    else:
        info = parse_sidecar(sidecar)
    wav = audio.read_bytes() if isinstance(audio, Path) else audio
    rec = recording_from_file(wav, info, source=source, config=archive.config)
    new = build_call_item(rec, archive.config)
    _refuse_another_call(archive, new)
    result = archive.ingest(new, actor=actor)
    return CallFileResult(result, round(rec.duration_s, 3), len(rec.channels))


def _refuse_another_call(archive: Archive, new: NewItem) -> None:
    """A re-upload of archived audio merges its new parties (as a re-delivered e-mail
    merges its recipients), but only as the same call: a sidecar with another call id
    for the very same audio is a mix-up for a person to sort out, not new metadata to
    fold in silently (nor a second copy to keep)."""
    if new.dedupe_key is None or new.thread_key is None:
        return
    existing, _ = archive.vault.known(new.dedupe_key)
    if existing is None:
        return
    archived = archive.record(existing).thread_key
    if archived is not None and archived != new.thread_key:
        raise CallInputError(
            f"this audio is already archived as item {existing} with call id "
            f"{archived.removeprefix('call:')!r}; the sidecar's call id "
            f"{new.thread_key.removeprefix('call:')!r} differs, so it was not merged: "
            "check which call the file belongs to")
