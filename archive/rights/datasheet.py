"""The cover letter of a subject's export: what Art. 15(1) says the person is told.

Purposes and lawful basis, recipients (the categories the controller names and
every disclosure actually recorded), retention, where the data came from, the
person's rights and the supervisory authority. The controller's values come
from ``[privacy_office]`` in archive.toml (``archive.config.PrivacyOffice``).
"""

from __future__ import annotations

from typing import Any, Final

from archive.config import ArchiveConfig

RIGHTS: Final = (
    ("access", "a copy of your data and this information (Art. 15)"),
    ("rectification", "a correction noted beside a recording (Art. 16)"),
    ("erasure", "erasure, unless a legal obligation requires us to keep it (Art. 17)"),
    ("restriction", "restriction of processing (Art. 18)"),
    ("portability", "your data in a structured, machine-readable form (Art. 20): "
                    "index.json and vcon/"),
    ("objection", "objection to processing on legitimate interest (Art. 21)"),
    ("consent_withdrawal", "withdrawal of consent at any time (Art. 7(3))"),
    ("complaint", "a complaint to the supervisory authority (Art. 77)"),
)


def data_sheet(config: ArchiveConfig) -> dict[str, Any]:
    """The controller's information, machine-readable (``index.json``'s ``data_sheet``)."""
    office = config.privacy_office
    return {
        "controller": config.organisation,
        "contact": office.contact,
        "purposes": [{"purpose": p.name, "description": p.description,
                      "lawful_basis": p.lawful_basis.value,
                      "retention_days": p.retention_days} for p in config.purposes],
        "recipients": list(office.recipients),
        "source": office.source,
        "rights": [{"right": r, "description": d} for r, d in RIGHTS],
        "supervisory_authority": office.supervisory_authority,
    }


def cover_letter(index: dict[str, Any]) -> str:
    """The data sheet as a letter, with the disclosures of the exported items."""
    sheet = index["data_sheet"]
    disclosed = sorted({(d["recipient"], d["disclosed_at"][:10], d["legal_basis"])
                        for item in index["items"] for d in item["disclosed_to"]})
    case = f" (case {index['case_id']})" if index.get("case_id") else ""
    lines = [
        f"{sheet['controller']}: information about your data",
        "=" * 60,
        f"In answer to your request{case}, prepared {index['generated_at'][:10]}. "
        f"Contact: {sheet['contact']}",
        "",
        "Purposes, lawful basis and how long we keep your data:",
        *(f"  - {p['description']} ({p['purpose']}): basis "
          f"{p['lawful_basis'].replace('_', ' ')}; kept {p['retention_days']} days"
          for p in sheet["purposes"]),
        "",
        "Recipients:",
        *(f"  - {r}" for r in sheet["recipients"]),
        *(f"  - disclosed to {r} on {when} ({basis})" for r, when, basis in disclosed),
        "",
        f"Source: {sheet['source']}",
        "",
        "Your rights:",
        *(f"  - {r['description']}" for r in sheet["rights"]),
        "",
        f"Supervisory authority: {sheet['supervisory_authority']}",
        "",
        f"Enclosed: {len(index['items'])} recording(s) and message(s); summary.txt lists "
        "them, index.json holds the same in machine-readable form.",
        "",
    ]
    return "\n".join(lines)
