"""The reader's e-mail view on awkward and hostile messages: it never fails a read."""

from __future__ import annotations

from search_api.mail_view import attachment, message_view, sanitise_html


def test_html_only_mail_with_an_unknown_charset_and_broken_headers() -> None:
    raw = (b"From: \"Unclosed <a@b\r\nTo: ;;;\r\nCc: Good <good@example.com>\r\n"
           b"Subject: =?x-unknown?q?caf=E9?=\r\nDate: not a date\r\n"
           b"Content-Type: text/html; charset=x-no-such-charset\r\n\r\n"
           b"<p>caf\xe9 <a href='javascript:alert(1)'>x</a> <a href=//evil.example/p>y</a></p>")
    view = message_view(raw)
    assert view.text is None and view.html is not None
    assert "javascript" not in view.html and "<p>" in view.html
    assert view.cc[0].address == "good@example.com"
    assert view.date == "not a date"
    assert view.attachments == []


def test_attachments_are_numbered_in_order_including_forwarded_messages() -> None:
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: fw\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
           b"--o\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
           b"--o\r\nContent-Type: image/png\r\nContent-Disposition: attachment; "
           b"filename=\"a.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
           b"--o\r\nContent-Type: text/csv; name=list.csv\r\n\r\na,b\r\n1,2\r\n"
           b"--o--\r\n")
    view = message_view(raw)
    assert view.text is not None and view.text.startswith("see below")
    assert [(a.index, a.filename, a.content_type) for a in view.attachments] == [
        (0, "a.png", "image/png"), (1, "list.csv", "text/csv")]
    found = attachment(raw, 1)
    assert found is not None and found[1].replace(b"\r\n", b"\n") == b"a,b\n1,2"
    assert attachment(raw, 2) is None


def test_sanitising_keeps_text_and_links_and_drops_everything_that_loads_or_runs() -> None:
    out = sanitise_html(
        '<table><tr><td style="x">cell</td></tr></table><form action="https://e"><input>'
        '</form><svg onload="x()"><a href="https://e">s</a></svg><object data="x"></object>'
        '<a href="mailto:help@example.com" onmouseover="x()">mail us</a>'
        '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=x">')
    assert "<td>cell</td>" in out
    assert '<a href="mailto:help@example.com"' in out
    for banned in ("style", "<form", "<input", "<svg", "onload", "<object", "onmouseover",
                   "<base", "<meta"):
        assert banned not in out, banned
