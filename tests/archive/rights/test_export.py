"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

import json

from archive import rights
from tests.subjects import ALL_OF_A, A, B, C, Mixed, export_zip


def test_access_export_contains_all_of_a_and_nothing_of_b_or_c(mixed: Mixed) -> None:
    arc = mixed.archive
    rights.record_disclosure(arc, [mixed.a_order], recipient="Tax authority",
                              legal_basis="Art. 6(1)(c); tax law", actor="legal-1",
                              role="legal", reference="TAX-9")
    rights.annotate_item(arc, mixed.items[A.email][0], "Customer says the date is wrong.",
                          actor="dpo", subject=A.email)
    zf = export_zip(arc, ALL_OF_A)
    names = zf.namelist()
    index = json.loads(zf.read("index.json"))
    exported = {i["id"] for i in index["items"]}
    expected = set(mixed.items[A.email])
    assert exported == expected
    others = set(mixed.items[B.email]) | set(mixed.items[C.email])
    assert not any(o in n for o in others for n in names)
    blob = b"".join(zf.read(n) for n in names)
    for other in (B, C):
        assert other.email.encode() not in blob and other.phone.encode() not in blob
    order = next(i for i in index["items"] if i["id"] == mixed.a_order)
    assert {p["lawful_basis"] for p in order["purposes"]} == {"legitimate_interest",
                                                              "legal_obligation"}
    assert all(p["retain_until"] for p in order["purposes"])
    assert order["disclosed_to"][0]["recipient"] == "Tax authority"
    call = next(i for i in index["items"] if i["channel"] == "call")
    assert f"items/{call['id']}/original.wav" in names
    words = json.loads(zf.read(f"items/{call['id']}/transcript.json"))
    assert words["speakers"][0]["words"][0]["start"] == 0.0
    assert b"router" in zf.read(f"items/{call['id']}/transcript.txt")
    first = next(i for i in index["items"] if i["id"] == mixed.items[A.email][0])
    assert first["rectifications"][0]["text"] == "Customer says the date is wrong."
    assert zf.read(f"items/{first['id']}/original.eml").startswith(b"From: Jan <anna@")
    assert "Tax authority" in zf.read("summary.txt").decode()
    vcons = [json.loads(zf.read(n)) for n in names if n.startswith("vcon/")]
    assert sum(len(v["dialog"]) for v in vcons) == len(expected)
    recording = next(d for v in vcons for d in v["dialog"] if d["type"] == "recording")
    assert recording["encoding"] == "base64url" and recording["parties"]
    assert any(a["type"] == "lawful_basis" for v in vcons for a in v["attachments"])
    events = arc.audit.events(subject=A.email, action="export")
    assert events and set(events[-1].item_ids) == set(exported)


def test_an_item_that_only_mentions_the_requester_is_exported_redacted_of_the_others(
    mixed: Mixed,
) -> None:
    """Art. 15(4): Anna's copy must not hand her Bob's mail, only what it says of her."""
    from archive.model import AddressKind, Party, PartyRole, Side
    from tests.conftest import email_item

    arc = mixed.archive
    new = email_item(subject="About my neighbour Bob Jansen",
                     body=f"Hi, Bob Jansen here ({B.phone}, {B.email}). My neighbour "
                          f"{A.customer_number} gets my post.", customer=B.email)
    new.parties[0] = Party(PartyRole.FROM, B.email, AddressKind.EMAIL, "Bob Jansen",
                           Side.CUSTOMER)
    bobs = arc.ingest(new).item_id
    zf = export_zip(arc, ALL_OF_A)
    index = json.loads(zf.read("index.json"))
    entries = {i["id"]: i for i in index["items"]}
    entry = entries[bobs]
    assert entry["redacted"] is True and entry["match"] == ["mention"]
    assert entry["files"] == [f"items/{bobs}/redacted.txt"]
    assert "parties" not in entry
    text = zf.read(f"items/{bobs}/redacted.txt").decode()
    assert A.customer_number in text and "neighbour" in text
    for secret in ("Bob", "Jansen", B.email, B.phone, B.phone[1:]):
        assert secret not in text
    for name in zf.namelist():
        if name != f"items/{bobs}/redacted.txt":
            assert b"Jansen" not in zf.read(name), name
    # Anna's own items, and the note that mentions her but is nobody else's, are whole.
    assert all(not entries[i]["redacted"] for i in mixed.items[A.email])
    assert f"items/{mixed.items['mention'][0]}/original.eml" in zf.namelist()
    assert index["redacted_items"] == [bobs]
    assert "redacted" in zf.read("summary.txt").decode()
