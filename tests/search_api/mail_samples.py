"""A realistic HTML e-mail with an attachment, archived as the SMTP ingester would."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from archive.service import Archive
from ingest.email.item import Envelope, build_item

PDF: bytes = b"%PDF-1.4\n% an invoice\n" + bytes(range(256)) * 4
HTML: str = (
    '<html><head><style>p{color:red}</style><script>alert("x")</script></head>'
    '<body><p style="font-size:30px" onclick="steal()">Dear support,</p>'
    '<p>My modem blinks orange since the outage. See '
    '<a href="https://status.example.net/outage/42">the status page</a>.</p>'
    '<img src="https://tracker.example.org/pixel.gif" alt="">'
    '<iframe src="https://evil.example.org/"></iframe></body></html>'
)


def html_mail(subject: str = "Modem blinks orange") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Marieke Smit <marieke@customer.nl>"
    msg["To"] = "Support <support@example.com>"
    msg["Cc"] = "Billing <billing@example.com>"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 09:15:00 +0100"
    msg["Message-ID"] = f"<{abs(hash(subject))}@customer.nl>"
    msg.set_content("Dear support,\n\nMy modem blinks orange since the outage.\n")
    msg.add_alternative(HTML, subtype="html")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice 42.pdf")
    return msg.as_bytes()


def archive_html_mail(archive: Archive, subject: str = "Modem blinks orange") -> str:
    envelope = Envelope("marieke@customer.nl", ("support@example.com",),
                        datetime(2026, 11, 2, 8, 15, tzinfo=UTC))
    item = build_item(html_mail(subject), envelope, is_internal=archive.is_internal_address,
                      source="test")
    return archive.ingest(item).item_id
