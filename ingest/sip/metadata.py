"""Recording metadata (RFC 7865, ``application/rs-metadata+xml``), parsed safely.

defusedxml refuses DTDs, entity declarations and external references, so a
hostile SRC cannot expand entities or make us fetch anything. Both the RFC
form (``participant_id`` attributes, ``nameID aor``) and the older draft form
(``id`` attributes, ``aor`` elements) are read. Updates (re-INVITE, UPDATE)
are merged into what we already know, as the RFC's "partial" datamode asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ingest.errors import IngestError

MAX_METADATA_BYTES: Final = 64 * 1024


class MetadataError(IngestError, ValueError):
    """Recording metadata refused as unsafe (DTD, entities) or malformed."""


@dataclass(slots=True)
class Participant:
    participant_id: str
    aor: str | None = None
    name: str | None = None
    sends: list[str] = field(default_factory=list)
    receives: list[str] = field(default_factory=list)
    associated_at: str | None = None
    disassociated_at: str | None = None


@dataclass(slots=True)
class StreamInfo:
    stream_id: str
    label: str | None = None
    session_id: str | None = None


@dataclass(slots=True)
class RecordingMetadata:
    datamode: str = "complete"
    group_id: str | None = None
    session_ids: list[str] = field(default_factory=list)
    sip_session_ids: list[str] = field(default_factory=list)
    participants: dict[str, Participant] = field(default_factory=dict)
    streams: dict[str, StreamInfo] = field(default_factory=dict)
    start_time: str | None = None
    stop_time: str | None = None

    def participant_for_label(self, label: str | None) -> Participant | None:
        """The participant who *sends* the stream with this SDP label."""
        if label is None:
            return None
        stream_ids = {s.stream_id for s in self.streams.values() if s.label == label}
        for part in self.participants.values():
            if stream_ids.intersection(part.sends):
                return part
        return None

    def merge(self, update: RecordingMetadata) -> None:
        """Fold a later metadata document into this one (partial or complete)."""
        self.datamode = update.datamode
        self.group_id = update.group_id or self.group_id
        for sid in update.session_ids:
            if sid not in self.session_ids:
                self.session_ids.append(sid)
        for sid in update.sip_session_ids:
            if sid not in self.sip_session_ids:
                self.sip_session_ids.append(sid)
        for pid, part in update.participants.items():
            old = self.participants.get(pid)
            if old is None:
                self.participants[pid] = part
                continue
            old.aor = part.aor or old.aor
            old.name = part.name or old.name
            old.sends = part.sends or old.sends
            old.receives = part.receives or old.receives
            old.associated_at = old.associated_at or part.associated_at
            old.disassociated_at = part.disassociated_at or old.disassociated_at
        for sid, stream in update.streams.items():
            old_stream = self.streams.get(sid)
            if old_stream is None:
                self.streams[sid] = stream
            else:
                old_stream.label = stream.label or old_stream.label
                old_stream.session_id = stream.session_id or old_stream.session_id
        self.start_time = self.start_time or update.start_time
        self.stop_time = update.stop_time or self.stop_time

    def to_json(self) -> dict[str, Any]:
        return {
            "datamode": self.datamode,
            "group_id": self.group_id,
            "session_ids": self.session_ids,
            "sip_session_ids": self.sip_session_ids,
            "participants": {
                pid: {
                    "aor": p.aor,
                    "name": p.name,
                    "sends": p.sends,
                    "receives": p.receives,
                    "associated_at": p.associated_at,
                    "disassociated_at": p.disassociated_at,
                }
                for pid, p in self.participants.items()
            },
            "streams": {
                sid: {"label": s.label, "session_id": s.session_id}
                for sid, s in self.streams.items()
            },
            "start_time": self.start_time,
            "stop_time": self.stop_time,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordingMetadata:
        meta = cls(
            datamode=str(data.get("datamode") or "complete"),
            group_id=data.get("group_id"),
            session_ids=list(data.get("session_ids") or []),
            sip_session_ids=list(data.get("sip_session_ids") or []),
            start_time=data.get("start_time"),
            stop_time=data.get("stop_time"),
        )
        for pid, p in (data.get("participants") or {}).items():
            meta.participants[pid] = Participant(
                pid,
                aor=p.get("aor"),
                name=p.get("name"),
                sends=list(p.get("sends") or []),
                receives=list(p.get("receives") or []),
                associated_at=p.get("associated_at"),
                disassociated_at=p.get("disassociated_at"),
            )
        for sid, s in (data.get("streams") or {}).items():
            meta.streams[sid] = StreamInfo(
                sid, label=s.get("label"), session_id=s.get("session_id")
            )
        return meta


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _child_text(el: Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name and c.text and c.text.strip():
            return c.text.strip()
    return None


def _attr(el: Element, *names: str) -> str | None:
    for key, value in el.attrib.items():
        if _local(key) in names and value.strip():
            return value.strip()
    return None


def parse_metadata(data: bytes) -> RecordingMetadata:
    """Parse an RFC 7865 document; raise :class:`MetadataError` for unsafe or invalid XML."""
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError("metadata too large")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SafeET.ParseError) as exc:
        raise MetadataError(f"unsafe or malformed metadata XML ({type(exc).__name__})") from None
    if _local(root.tag) != "recording":
        raise MetadataError("metadata root is not <recording>")
    meta = RecordingMetadata(datamode=_child_text(root, "datamode") or "complete")
    for group in _children(root, "group"):
        meta.group_id = _attr(group, "group_id", "id") or meta.group_id
        meta.start_time = meta.start_time or _child_text(group, "associate-time")
    for session in _children(root, "session"):
        sid = _attr(session, "session_id", "id")
        if sid and sid not in meta.session_ids:
            meta.session_ids.append(sid)
        for sip_sid in _children(session, "sipSessionID"):
            if sip_sid.text and sip_sid.text.strip():
                meta.sip_session_ids.append(sip_sid.text.strip())
        meta.start_time = _child_text(session, "start-time") or meta.start_time
        meta.stop_time = _child_text(session, "stop-time") or meta.stop_time
        if meta.group_id is None:
            meta.group_id = _child_text(session, "group-ref")
    for assoc in _children(root, "sessionrecordingassoc"):
        meta.start_time = meta.start_time or _child_text(assoc, "associate-time")
        meta.stop_time = _child_text(assoc, "disassociate-time") or meta.stop_time
    for p in _children(root, "participant"):
        pid = _attr(p, "participant_id", "id")
        if not pid:
            continue
        part = meta.participants.setdefault(pid, Participant(pid))
        for name_id in _children(p, "nameID"):
            part.aor = _attr(name_id, "aor") or part.aor
            part.name = _child_text(name_id, "name") or part.name
        part.aor = _child_text(p, "aor") or part.aor
        part.name = part.name or _child_text(p, "name")
        part.sends += [c.text.strip() for c in _children(p, "send") if c.text]
        part.receives += [c.text.strip() for c in _children(p, "recv") if c.text]
    for s in _children(root, "stream"):
        stream_id = _attr(s, "stream_id", "id")
        if not stream_id:
            continue
        meta.streams[stream_id] = StreamInfo(
            stream_id, label=_child_text(s, "label"), session_id=_attr(s, "session_id")
        )
    for assoc in _children(root, "participantstreamassoc"):
        pid = _attr(assoc, "participant_id", "id")
        if not pid:
            continue
        part = meta.participants.setdefault(pid, Participant(pid))
        sends = [c.text.strip() for c in _children(assoc, "send") if c.text]
        recvs = [c.text.strip() for c in _children(assoc, "recv") if c.text]
        part.sends = sorted(set(part.sends + sends))
        part.receives = sorted(set(part.receives + recvs))
    for assoc in _children(root, "participantsessionassoc"):
        pid = _attr(assoc, "participant_id", "id")
        if pid and pid in meta.participants:
            part = meta.participants[pid]
            part.associated_at = _child_text(assoc, "associate-time") or part.associated_at
            part.disassociated_at = _child_text(assoc, "disassociate-time") or part.disassociated_at
    return meta
