"""A set as the trainer gets it: the preview, and the ZIP that hands it out.

Both come from one rendering (:func:`render_set`): the set's items in set
order, each through the anonymised view and the set's pseudonyms, so the
preview, the ZIP's texts and its manifest cannot disagree. The ZIP is built in
memory and streamed; nothing of it is written to disk. Bleeped audio comes from
the reading room (``Reader.read_audio`` through the anonymised purpose, audited
per call), which refuses a call it cannot bleep with confidence: such a call is
left out of the ZIP and listed in the manifest and datasheet.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from archive import training_tables as tt
from archive.errors import AccessDenied, InvalidRequest
from archive.model import Channel, now_utc
from archive.service import Archive
from archive.training.render import ItemRenderer, Rendered
from archive.training.sets import SetStatus, TrainingSet, get_set, open_pseudonyms
from archive.users import User
from archive.vault import PART_INDEX, PART_TRANSCRIPT, json_bytes

MANIFEST_VERSION: Final = 1
#: What a trainer may do with the set, written into every datasheet.
HANDLING: Final = (
    "Anonymised for agent training: names, numbers, addresses and other identifiers are "
    "replaced by pseudonyms that are consistent within this set only, and spoken ones are "
    "bleeped. Do not try to identify anyone; do not combine with other sets or sources; "
    "delete every copy when the set expires.")


@dataclass(slots=True)
class RenderedSet:
    set: TrainingSet
    items: list[Rendered]
    #: Members not shown now: [{"id": pseudonym, "channel", "reason"}].
    unavailable: list[dict[str, str]] = field(default_factory=list)


def render_set(archive: Archive, user: User, set_id: str) -> RenderedSet:
    """Every live member of the set, pseudonymised; a member the trainer can no longer
    read (its purpose ended, restricted since) is listed instead of shown."""
    found = get_set(archive, set_id)
    pseudonyms = open_pseudonyms(archive, user, found)
    members = found.live_members
    records = archive.vault.records_of([m.item_id for m in members])
    unavailable: list[dict[str, str]] = []
    readable = []
    for member in members:
        record = records.get(member.item_id)
        if record is None:
            unavailable.append({"id": member.pseudo_id, "channel": "", "reason": "item is gone"})
            continue
        try:
            archive.reader.authorize(user, record, found.key_purpose)
        except AccessDenied as exc:
            unavailable.append({"id": member.pseudo_id, "channel": record.channel.value,
                                "reason": str(exc)})
            continue
        readable.append((member, record))
    # Every party first: one person across items is one pseudonym whatever the order.
    for _, record in readable:
        pseudonyms.add_parties(record.parties)
    renderer = ItemRenderer(pseudonyms)
    items = []
    for member, record in readable:
        try:
            if record.channel is Channel.CALL:
                transcript = json.loads(
                    archive.vault.unseal_for_system(record.id, PART_TRANSCRIPT))
                items.append(renderer.call(record, member.pseudo_id, transcript))
            else:
                index_part = json.loads(archive.vault.unseal_for_system(record.id, PART_INDEX))
                items.append(renderer.email(record, member.pseudo_id, index_part))
        except InvalidRequest as exc:  # fail closed for this item, not the whole set
            unavailable.append({"id": member.pseudo_id, "channel": record.channel.value,
                                "reason": str(exc)})
    return RenderedSet(found, items, unavailable)


def preview(archive: Archive, user: User, set_id: str) -> RenderedSet:
    """The rendered set for the builder's preview; audited as a read of its items."""
    rendered = render_set(archive, user, set_id)
    archive.vault.record_event(
        actor=user.name, role=user.role.value, action="training_set_preview",
        purpose=rendered.set.key_purpose, item_ids=[i.item_id for i in rendered.items],
        detail={"set_id": set_id, "anonymised": True})
    return rendered


def export_zip(archive: Archive, user: User, set_id: str,
               now: datetime | None = None) -> tuple[TrainingSet, bytes]:
    """The set's ZIP; the set counts as handed out from now on (audited)."""
    now = now or now_utc()
    rendered = render_set(archive, user, set_id)
    found = rendered.set
    files: dict[str, bytes] = {}
    manifest_items = []
    left_out = list(rendered.unavailable)
    for item in rendered.items:
        folder = f"items/{item.pseudo_id}/"
        item_files: dict[str, bytes] = {}
        if item.channel is Channel.CALL:
            try:
                audio = archive.reader.read_audio(user, item.item_id, purpose=found.key_purpose)
            except AccessDenied as exc:
                left_out.append({"id": item.pseudo_id, "channel": item.channel.value,
                                 "reason": str(exc)})
                continue
            item_files["audio.wav"] = audio.data
            item_files["transcript.json"] = json_bytes(item.transcript)
            item_files["transcript.txt"] = item.text.encode() + b"\n"
        else:
            item_files["email.txt"] = item.text.encode() + b"\n"
        for name, data in item_files.items():
            files[folder + name] = data
        manifest_items.append({
            "id": item.pseudo_id, "channel": item.channel.value, "language": item.language,
            "date": item.date, "title": item.title, "duration_s": item.duration_s,
            "redactions": dict(sorted(item.redactions.items())),
            "pseudonyms": sorted(item.pseudonyms),
            "files": [{"path": folder + name, "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()}
                      for name, data in item_files.items()],
        })
    totals: Counter[str] = Counter()
    for item in rendered.items:
        if any(entry["id"] == item.pseudo_id for entry in manifest_items):
            totals.update(item.redactions)
    excluded = [*found.excluded, *left_out]
    sheet = datasheet(found, user, now, len(manifest_items), excluded)
    manifest = {
        "manifest_version": MANIFEST_VERSION, "set": found.id, "title": found.title,
        "built_at": found.created_at.isoformat(), "exported_at": now.isoformat(),
        "items": manifest_items, "excluded": excluded,
        "redactions": dict(sorted(totals.items())),
        "counts": {"items": len(manifest_items),
                   "calls": sum(i["channel"] == "call" for i in manifest_items),
                   "emails": sum(i["channel"] == "email" for i in manifest_items),
                   "excluded": len(excluded)},
        "datasheet": sheet,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        zf.writestr("datasheet.md", datasheet_markdown(sheet))
        for path, data in files.items():
            zf.writestr(path, data)
    with archive.vault.write() as tx:
        tx.conn.execute(tt.training_sets.update().where(tt.training_sets.c.id == found.id)
                        .values(status=SetStatus.EXPORTED.value, exported_at=now,
                                exported_by=user.name))
        tx.event(actor=user.name, role=user.role.value, action="training_set_export",
                 purpose=found.key_purpose, item_ids=[i.item_id for i in rendered.items],
                 detail={"set_id": found.id, "items": len(manifest_items),
                         "excluded": len(excluded), "anonymised": True})
    return get_set(archive, set_id), buffer.getvalue()


def datasheet(found: TrainingSet, user: User, now: datetime, items: int,
              excluded: list[dict[str, str]]) -> dict[str, Any]:
    """Purpose, criteria, date, who built and who exported it, how long it may be kept."""
    return {
        "title": found.title, "purpose": found.purpose_text,
        "criteria": found.criteria.public(), "built_at": found.created_at.isoformat(),
        "built_by": found.created_by, "exported_at": now.isoformat(), "exported_by": user.name,
        "items": items, "excluded": len(excluded),
        "pseudonyms": "realistic surrogates" if found.surrogates else "numbered labels",
        "retention": {
            "expires_at": found.expires_at.isoformat() if found.expires_at else None,
            "basis": f"the '{found.key_purpose}' retention of its items: the set ends with "
                     "the first of them",
        },
        "handling": HANDLING,
    }


def datasheet_markdown(sheet: dict[str, Any]) -> str:
    criteria = sheet["criteria"]
    lines = [f"# Datasheet: {sheet['title']}", "", f"**Purpose.** {sheet['purpose']}", "",
             "## Composition",
             f"- items: {sheet['items']} (left out: {sheet['excluded']}, see manifest.json)",
             f"- pseudonyms: {sheet['pseudonyms']}, consistent within this set only", "",
             "## Criteria"]
    lines += [f"- {k}: {'any' if v is None else v}" for k, v in criteria.items()]
    lines += ["", "## Provenance",
              f"- built {sheet['built_at']} by {sheet['built_by']}",
              f"- exported {sheet['exported_at']} by {sheet['exported_by']}", "",
              "## Retention",
              f"- expires {sheet['retention']['expires_at']}: {sheet['retention']['basis']}", "",
              "## Handling", sheet["handling"], ""]
    return "\n".join(lines)
