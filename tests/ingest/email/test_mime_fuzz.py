"""Fuzz the parse-and-store path: generated, mutated and random MIME never escapes or hangs.

Each input goes through ``build_item`` (with a per-input parse time limit) and
then ``Archive.ingest`` on a real archive; the original must come back byte-exact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.config import Role
from archive.model import ItemStatus
from archive.parties import domain_matcher
from archive.service import Archive
from archive.users import User
from ingest.email.item import Envelope, build_item
from ingest.email.parsed import MimeLimits
from tests.conftest import make_archive

PARSE_LIMIT_S = 2.0
#: Wall-clock allowance per input on top of the parse limit (sealing, fsync, index).
SLACK_S = 5.0
LIMITS = MimeLimits(parse_timeout_s=PARSE_LIMIT_S, max_parts=200, max_depth=16)
IS_INTERNAL = domain_matcher(["example.com"])
FUZZ = settings(
    max_examples=120,
    deadline=None,  # the per-input limit is asserted explicitly below
    database=None,  # keep generated inputs off disk
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS: list[bytes] = [
    b"From: Jan <jan@customer.nl>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
    b"Message-ID: <a@b>\r\nReferences: <r@x> <s@y>\r\n\r\nbody\r\n",
    b"From: a@customer.nl\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
    b"--B\r\nContent-Type: multipart/alternative; boundary=C\r\n\r\n--C\r\n"
    b"Content-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\r\n--C\r\n"
    b"Content-Type: text/html\r\n\r\n<p>hi<script>x</script>\r\n--C--\r\n"
    b"--B\r\nContent-Type: application/pdf; name*=utf-8''r%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--B\r\n"
    b"Content-Type: message/rfc822\r\n\r\nFrom: x@y\r\n\r\ninner\r\n--B--\r\n",
    b"From: =?iso-8859-1?b?Sm9z6Q==?= <jose@customer.nl>\r\nTo: \"a@b\" <c@d>, group: e@f;\r\n"
    b"Content-Type: text/plain; charset=\"utf-8\"; format=flowed\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nsoft\r\n",
]
TOKENS: list[bytes] = [
    b"\r\n", b"\n", b"\r\n\r\n", b"\r\n ", b":", b";", b"=?", b"?=", b"=?utf-8?b?", b"=?x?q?",
    b"(", b")", b"\"", b"\\", b"<", b">", b"@", b",", b"--B", b"--B--", b"boundary=",
    b"Content-Type: multipart/mixed; boundary=B\r\n", b"Content-Transfer-Encoding: base64\r\n",
    b"charset=", b"\x00", b"\xff", b"\xc3", b"<!--", b"&#", b"message/rfc822", b"*0*=",
    b"Content-Disposition: attachment; filename*=utf-8''%", b"From: ", b"To: ",
]


@pytest.fixture(scope="module")
def fuzz_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, User]]:
    archive = make_archive(Path(tmp_path_factory.mktemp("fuzz")) / "data")
    user = archive.authenticate(archive.users.add("fuzz-privacy", Role.PRIVACY))
    yield archive, user
    archive.close()


def parse_and_store(archive: Archive, user: User, raw: bytes) -> None:
    started = time.monotonic()
    envelope = Envelope("jan@customer.nl", ("support@example.com",), datetime.now(UTC))
    item = build_item(raw, envelope, is_internal=IS_INTERNAL, limits=LIMITS)
    assert item.original == raw
    assert item.status in (ItemStatus.OK, ItemStatus.UNPARSED)
    json.dumps(item.details)  # sealed as JSON: must serialise
    for party in item.parties:
        assert party.address and not any(ord(c) < 32 for c in party.address)
        assert not any(ord(c) < 32 for c in party.name or "")
    for section in item.sections:
        section.text.encode("utf-8")  # valid Unicode, no lone surrogates
    result = archive.ingest(item)
    assert archive.read_content(user, result.item_id).data == raw or not result.created
    assert time.monotonic() - started < PARSE_LIMIT_S + SLACK_S


# ------------------------------------------------------------------ generated MIME

header_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=80,
)
address = st.from_regex(r"[a-z0-9.]{1,12}@[a-z0-9-]{1,10}\.(nl|com|example)", fullmatch=True)


@st.composite
def generated_message(draw: st.DrawFn, depth: int = 0) -> EmailMessage:
    msg = EmailMessage(policy=SMTPUTF8 if draw(st.booleans()) else SMTP)
    if depth == 0:
        msg["From"] = draw(address)
        msg["To"] = ", ".join(draw(st.lists(address, min_size=1, max_size=4)))
        msg["Subject"] = draw(header_text)
        msg["Message-ID"] = f"<{draw(st.uuids()).hex}@customer.nl>"
    kind = draw(st.sampled_from(["text", "html", "binary", "multi"] if depth < 4 else ["text"]))
    if kind == "text":
        charset = draw(st.sampled_from(["utf-8", "iso-8859-1", "koi8-r"]))
        msg.set_content(draw(st.text(max_size=400)) + "\n", charset=charset)
    elif kind == "html":
        msg.set_content("<p>" + draw(st.text(max_size=200)) + "</p>", subtype="html")
    elif kind == "binary":
        msg.set_content(draw(st.binary(max_size=300)), maintype="application",
                        subtype="octet-stream", filename=draw(header_text) or "f.bin")
    else:
        msg.set_content(draw(st.text(max_size=100)) + "\n")
        for _ in range(draw(st.integers(1, 3))):
            child = draw(generated_message(depth + 1))
            if draw(st.booleans()):
                msg.add_attachment(child)  # as message/rfc822
            else:
                if not msg.is_multipart():
                    msg.make_mixed()
                msg.attach(child)
    return msg


@FUZZ
@given(st.data())
def test_generated_mime(fuzz_archive: tuple[Archive, User], data: st.DataObject) -> None:
    try:
        msg = data.draw(generated_message())
        raw = msg.as_bytes()
    except Exception:  # the generator's own limits (the stdlib refuses some combinations)
        raw = data.draw(st.sampled_from(SEEDS))
    parse_and_store(*fuzz_archive, raw)


# ------------------------------------------------------------------ mutated MIME


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "flip"]))
        pos = draw(st.integers(0, len(raw)))
        if op == "insert":
            raw[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 40))]
        elif op == "replace" and raw:
            raw[pos : pos + 1] = draw(st.binary(min_size=1, max_size=4))
        elif op == "repeat":
            chunk = bytes(raw[pos : pos + draw(st.integers(1, 30))])
            raw[pos:pos] = chunk * draw(st.integers(1, 200))
        elif op == "flip" and raw:
            index = min(pos, len(raw) - 1)
            raw[index] ^= 1 << draw(st.integers(0, 7))
    return bytes(raw)


@FUZZ
@given(mutated())
def test_mutated_mime(fuzz_archive: tuple[Archive, User], raw: bytes) -> None:
    parse_and_store(*fuzz_archive, raw)


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes(fuzz_archive: tuple[Archive, User], raw: bytes) -> None:
    parse_and_store(*fuzz_archive, raw)


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"(", b"\"", b";", b"(a)", b"\\", b",", b"=?utf-8?q?a?= ", b"<", b"@"]),
    st.sampled_from(["To", "Content-Type", "Content-Disposition", "References", "Subject"]),
)
def test_pathological_header_repeats(
    fuzz_archive: tuple[Archive, User], unit: bytes, header: str
) -> None:
    # Super-linear corners of the stdlib header parser; the time limit must hold.
    value = b"text/plain; " + unit * 15_000 if header.startswith("Content") else unit * 15_000
    raw = b"From: a@customer.nl\r\n" + header.encode() + b": " + value + b"\r\n\r\nbody\r\n"
    parse_and_store(*fuzz_archive, raw)
