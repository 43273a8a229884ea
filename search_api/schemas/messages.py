"""An e-mail as the reader shows it: header card, bodies, attachments."""

from __future__ import annotations

from pydantic import Field

from search_api.mail_view import AttachmentInfo, Mailbox, MessageView
from search_api.schemas.common import PublicModel


class MailboxPublic(PublicModel):
    name: str | None
    address: str

    @classmethod
    def of(cls, boxes: list[Mailbox]) -> list[MailboxPublic]:
        return [cls(name=b.name, address=b.address) for b in boxes]


class AttachmentPublic(PublicModel):
    index: int = Field(description="its number in /attachments/{index}")
    filename: str | None
    content_type: str
    size: int = Field(description="decoded size in bytes")

    @classmethod
    def of(cls, info: AttachmentInfo) -> AttachmentPublic:
        return cls(index=info.index, filename=info.filename,
                   content_type=info.content_type, size=info.size)


class MessagePublic(PublicModel):
    """A parsed e-mail; read through an anonymised purpose only the redacted text."""

    item_id: str
    read_through: str
    anonymised: bool = Field(description="true: headers, HTML and attachments withheld, "
                                         "the text redacted")
    subject: str | None
    date: str | None = Field(description="the Date header as written")
    sender: list[MailboxPublic] = Field(description="From")
    to: list[MailboxPublic]
    cc: list[MailboxPublic]
    reply_to: list[MailboxPublic]
    text: str | None = Field(description="the text/plain body parts")
    html: str | None = Field(description="the HTML body, sanitised: text, structure and "
                                         "links only (no scripts, styles, images)")
    attachments: list[AttachmentPublic]

    @classmethod
    def of_view(cls, item_id: str, read_through: str, view: MessageView) -> MessagePublic:
        return cls(
            item_id=item_id, read_through=read_through, anonymised=False,
            subject=view.subject, date=view.date, sender=MailboxPublic.of(view.sender),
            to=MailboxPublic.of(view.to), cc=MailboxPublic.of(view.cc),
            reply_to=MailboxPublic.of(view.reply_to), text=view.text, html=view.html,
            attachments=[AttachmentPublic.of(a) for a in view.attachments],
        )

    @classmethod
    def anonymised_text(cls, item_id: str, read_through: str, text: str) -> MessagePublic:
        return cls(item_id=item_id, read_through=read_through, anonymised=True, subject=None,
                   date=None, sender=[], to=[], cc=[], reply_to=[], text=text, html=None,
                   attachments=[])

