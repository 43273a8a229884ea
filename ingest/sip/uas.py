"""The recording UAS: what each SIP request does to a recording session, and how one ends.

An INVITE with a recordable offer opens a sealed spool and a
:class:`~ingest.sip.session.CallSession`, answers ``100`` at once and ``200``
once its RTP ports are bound (re-INVITE and UPDATE renegotiate; CANCEL drops a
session not answered yet). A session ends by BYE, or by the server when RTP
stops, the session timer runs out or the call is too long (then it is
``truncated`` and we send the BYE); a session that never received RTP is ended
once the inactivity timeout has passed since it began, held or not, and is not
archived at all (no audio, no recording). Ending stops the media, closes the spool
and archives it in a worker thread (:meth:`RecordingUas._finish`), and
BYE is answered ``200`` only once the item is durable;
``500`` (Retry-After) when the archive cannot take it within
``bye_archive_timeout_s``: the sealed spool then stays and is retried. A new
INVITE gets ``503`` (Retry-After) at shutdown, at ``max_calls``, and while the
archive's index outbox is over its limits (``Archive.index_backlog``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archive.errors import ArchiveError
from archive.language import sip_headers
from ingest.sip.config import SipConfig
from ingest.sip.counters import SipCounters
from ingest.sip.media import MediaStream, RtpPorts, apply_offer
from ingest.sip.message import (
    SipMessage,
    SipParseError,
    header_params,
    make_response,
    new_tag,
    parse_name_addr,
    split_commas,
)
from ingest.sip.metadata import RecordingMetadata
from ingest.sip.recording import archive_with_deadline, recover_spools, spool_dir
from ingest.sip.sdp import AnswerStream, SessionDescription
from ingest.sip.session import (
    CallSession,
    CallState,
    EndStatus,
    RtpOutcome,
    negotiate_session_expires,
    parse_offer,
    refuse_offer,
)
from ingest.sip.spool import SpoolWriter
from ingest.sip.srtp import SrtpFailure
from ingest.sip.tasks import BackgroundTasks
from ingest.sip.transactions import (
    ResponseCache,
    TransactionKey,
    retransmit_until,
    transaction_key,
)
from ingest.sip.transport import Peer, Reply, Transport
from keys import KeysError

if TYPE_CHECKING:
    from archive.service import Archive

__all__ = ["RecordingUas"]

log = logging.getLogger("commarchive.sip")

def no_such_call(msg: SipMessage) -> SipMessage:
    return make_response(msg, 481, "Call/Transaction Does Not Exist")


class RecordingUas:
    """The live recording sessions and the requests that start, change and end them."""

    def __init__(
        self,
        archive: Archive,
        config: SipConfig,
        counters: SipCounters,
        responses: ResponseCache,
        port_for: Callable[[Transport], int | None],
    ) -> None:
        self.archive = archive
        self.config = config
        self.counters = counters
        self.responses = responses
        self.port_for = port_for
        self.ports = RtpPorts(config)
        self.tasks = BackgroundTasks()
        self.calls: dict[str, CallSession] = {}
        #: Call-IDs being archived right now.
        self.finishing: set[str] = set()
        #: Item ids archived, oldest first.
        self.archived: list[str] = []
        #: Set at shutdown: new calls are refused (503).
        self.closing = False

    def dialog_call(self, msg: SipMessage) -> CallSession | None:
        """The session an in-dialog request belongs to (Call-ID and both tags match)."""
        call = self.calls.get(msg.call_id)
        if call is None:
            return None
        to_tag = header_params(msg.get("to") or "").get("tag")
        from_tag = header_params(msg.get("from") or "").get("tag")
        if to_tag != call.local_tag or from_tag != call.remote_tag:
            return None
        return call

    # -- INVITE ------------------------------------------------------------------------

    def invite(
        self, msg: SipMessage, reply: Reply, transport: Transport, peer: Peer, key: TransactionKey
    ) -> None:
        respond = self.responses.respond
        to_tag = header_params(msg.get("to") or "").get("tag")
        from_tag = header_params(msg.get("from") or "").get("tag") or ""
        existing = self.calls.get(msg.call_id)
        if to_tag:
            call = self.dialog_call(msg)
            if call is None or not call.state.live:
                respond(key, reply, no_such_call(msg))
                return
            self.tasks.spawn(self._reinvite(call, msg, reply, key))
            return
        if existing is not None and existing.remote_tag == from_tag:
            # A retransmission that changed its branch: same dialog, same answer.
            if existing.ok_response is not None:
                reply(existing.ok_response)
            return
        try:
            sdp, meta, xml = parse_offer(msg)
            if msg.get("contact") is not None:
                parse_name_addr(split_commas(msg.get("contact") or "")[0])
        except SipParseError as exc:
            self.counters.bad_requests += 1
            respond(key, reply, make_response(msg, 400, exc.reason))
            return
        if sdp is None:
            respond(key, reply, make_response(msg, 488, "Not Acceptable Here (SDP offer required)"))
            return
        if not from_tag:
            self.counters.bad_requests += 1
            respond(key, reply, make_response(msg, 400, "Missing From Tag"))
            return
        if (self.closing or len(self.calls) >= self.config.max_calls
                or self.archive.index_backlog() is not None):  # the index is too far behind
            self.counters.calls_rejected += 1
            respond(
                key,
                reply,
                make_response(msg, 503, "Service Unavailable", headers=[("Retry-After", "5")]),
            )
            return
        expires = negotiate_session_expires(msg, self.config)
        if isinstance(expires, SipMessage):
            respond(key, reply, expires)
            return
        refusal = refuse_offer(msg, sdp, transport, self.config, initial=True)
        if refusal is not None:
            self.counters.calls_rejected += 1
            respond(key, reply, refusal)
            return
        try:
            spool = SpoolWriter(spool_dir(self.archive), self.archive.keyring)
        except (OSError, ArchiveError, KeysError) as exc:
            log.error("cannot open a call spool: %s", type(exc).__name__)
            respond(
                key,
                reply,
                make_response(msg, 503, "Service Unavailable", headers=[("Retry-After", "10")]),
            )
            return
        call = CallSession(
            call_id=msg.call_id,
            remote_tag=from_tag,
            local_tag=new_tag(),
            invite=msg,
            reply=reply,
            transport=transport,
            remote_addr=peer,
            spool=spool,
            metadata=meta or RecordingMetadata(),
            metadata_xml=xml,
            session_expires_s=expires,
            language_headers={name: value for name in sip_headers(self.archive.config
                                                                  .language_rules)
                              if (value := msg.get(name)) is not None},
        )
        self.calls[call.call_id] = call
        self.counters.calls_started += 1
        respond(key, reply, make_response(msg, 100, "Trying"))
        self.tasks.spawn(self._answer_initial(call, sdp, key))

    async def _answer_initial(
        self, call: CallSession, sdp: SessionDescription, key: TransactionKey
    ) -> None:
        respond = self.responses.respond
        try:
            answers = await self._apply_offer(call, sdp)
            if self.config.answer_delay_s > 0:
                await asyncio.sleep(self.config.answer_delay_s)
            if not call.cancellable:
                return  # CANCELled (or ended) meanwhile
            if not any(a.port for a in answers):
                self._drop(call)
                respond(key, call.reply, make_response(call.invite, 503, "No RTP Ports"))
                return
            call.write_info()
            body = self._answer_body(call, sdp, answers)
            ok = make_response(
                call.invite,
                200,
                "OK",
                to_tag=call.local_tag,
                headers=self._ok_headers(call),
                body=body,
            )
            call.confirm()
            raw = respond(key, call.reply, ok)
            call.ok_response = raw
            if call.transport is Transport.UDP:
                call.ok_acked = False
                self._retransmit_ok(call, raw)
        except (OSError, ArchiveError, KeysError) as exc:
            log.error("answering a recording session failed: %s", type(exc).__name__)
            self._drop(call)
            respond(key, call.reply, make_response(call.invite, 500, "Server Internal Error"))

    def _retransmit_ok(self, call: CallSession, raw: bytes) -> None:
        self.tasks.spawn(retransmit_until(raw, call.reply, done=lambda: not call.awaits_ack(raw)))

    def ack(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is not None:
            call.ok_acked = True

    # -- re-INVITE / UPDATE --------------------------------------------------------------

    async def _reinvite(
        self, call: CallSession, msg: SipMessage, reply: Reply, key: TransactionKey
    ) -> None:
        response = await self._renegotiate(call, msg)
        raw = self.responses.respond(key, reply, response)
        if response.status == 200 and call.transport is Transport.UDP:
            call.ok_response = raw
            call.ok_acked = False
            self._retransmit_ok(call, raw)

    async def _renegotiate(self, call: CallSession, msg: SipMessage) -> SipMessage:
        try:
            sdp, meta, xml = parse_offer(msg)
        except SipParseError as exc:
            self.counters.bad_requests += 1
            return make_response(msg, 400, exc.reason)
        expires = negotiate_session_expires(msg, self.config)
        if isinstance(expires, SipMessage):
            return expires
        if sdp is not None and (
            refusal := refuse_offer(msg, sdp, call.transport, self.config, initial=False)
        ) is not None:
            return refusal  # the session keeps its media as it was
        if meta is not None:
            call.metadata.merge(meta)
            call.metadata_xml = xml if meta.datamode == "complete" else call.metadata_xml or xml
        if expires:
            call.session_expires_s = expires
            call.session_deadline = time.monotonic() + expires
        call.last_activity = time.monotonic()
        body = call.last_answer
        if sdp is not None:
            # Every stream may be removed (all ports 0): the session stays, metadata may follow.
            answers = await self._apply_offer(call, sdp)
            body = self._answer_body(call, sdp, answers)
        call.write_info()
        headers = self._ok_headers(call)
        if not body:
            headers = [h for h in headers if h[0] != "Content-Type"]
        return make_response(msg, 200, "OK", to_tag=call.local_tag, headers=headers, body=body)

    def update(self, msg: SipMessage, reply: Reply, key: TransactionKey) -> None:
        call = self.dialog_call(msg)
        if call is None:
            self.responses.respond(key, reply, no_such_call(msg))
            return

        async def run() -> None:
            self.responses.respond(key, reply, await self._renegotiate(call, msg))

        self.tasks.spawn(run())

    # -- media -------------------------------------------------------------------------

    async def _apply_offer(self, call: CallSession, sdp: SessionDescription) -> list[AnswerStream]:
        async def open_stream(stream: MediaStream) -> bool:
            return await self.ports.open(
                stream,
                on_packet=lambda data: self._on_rtp(call, stream, data),
                on_foreign=self._on_foreign_rtp,
            )

        return await apply_offer(call.streams, sdp, open_stream, src_host=call.remote_addr[0])

    def _on_rtp(self, call: CallSession, stream: MediaStream, data: bytes) -> None:
        outcome = call.receive_rtp(stream, data)
        if isinstance(outcome, SrtpFailure):
            self.counters.srtp_dropped(replay=outcome is SrtpFailure.REPLAY)
            return
        if outcome in (RtpOutcome.STORED, RtpOutcome.LOST):
            self.counters.rtp_packets += 1
        if outcome in (RtpOutcome.DROPPED, RtpOutcome.LOST):
            self.counters.dropped_rtp += 1

    def _on_foreign_rtp(self) -> None:
        self.counters.dropped_rtp += 1
        self.counters.rtp_foreign += 1

    def _answer_body(
        self, call: CallSession, sdp: SessionDescription, answers: list[AnswerStream]
    ) -> bytes:
        return call.new_answer(sdp, answers, address=self.config.contact_host)

    def _ok_headers(self, call: CallSession) -> list[tuple[str, str]]:
        return call.ok_headers(
            contact_host=self.config.contact_host, port=self.port_for(call.transport)
        )

    # -- CANCEL / BYE ----------------------------------------------------------------------

    def cancel(self, msg: SipMessage, reply: Reply, key: TransactionKey) -> None:
        call = self.calls.get(msg.call_id)
        if call is None or call.invite.branch != msg.branch:
            self.responses.respond(key, reply, no_such_call(msg))
            return
        self.responses.respond(key, reply, make_response(msg, 200, "OK"))
        if not call.cancellable:
            return  # already answered: CANCEL has no effect (RFC 3261 9.2)
        self.responses.respond(
            transaction_key(call.invite),
            call.reply,
            make_response(call.invite, 487, "Request Terminated", to_tag=call.local_tag),
        )
        self._drop(call)

    def _drop(self, call: CallSession) -> None:
        """Forget a call that never became a recording (no audio, nothing to keep)."""
        call.close()
        call.stop_media()
        call.spool.discard()
        self.calls.pop(call.call_id, None)

    def bye(self, msg: SipMessage, reply: Reply, key: TransactionKey) -> None:
        call = self.dialog_call(msg)
        if call is None or not call.state.live:
            self.responses.respond(key, reply, no_such_call(msg))
            return
        # Mark the transaction as in progress: retransmitted BYEs wait for the real answer.
        self.responses.hold(key)
        ending = self._finish(call, EndStatus.OK, None, bye=(msg, reply, key))
        self.tasks.spawn(ending, finishing=True)

    async def _finish(
        self,
        call: CallSession,
        status: EndStatus,
        reason: str | None,
        *,
        bye: tuple[SipMessage, Reply, TransactionKey] | None = None,
    ) -> None:
        """End a session: stop media, close and archive the spool, then answer the BYE."""
        if not call.start_ending():
            return
        if call.first_rtp is None:
            self._end_without_audio(call, reason, bye)
            return
        self.finishing.add(call.call_id)
        call.stop_media()
        for stream in call.streams:
            self.counters.rtp_events += stream.timeline.stats.events
            self.counters.rtp_duplicates += stream.timeline.stats.duplicates
        end = {
            "ended_at": datetime.now(UTC).isoformat(),
            "status": status,
            "reason": reason,
            "rtp_stats": call.rtp_stats(),
        }
        item_id: str | None = None
        try:
            call.write_info()
            await asyncio.to_thread(call.spool.finish, end)
            item_id = await archive_with_deadline(
                self.archive,
                call.spool.path,
                timeout_s=self.config.bye_archive_timeout_s,
                counters=self.counters,
            )
            if item_id is not None:
                self.archived.append(item_id)
        except OSError as exc:
            log.error("finishing spool %s failed: %s", call.spool.spool_id, type(exc).__name__)
        finally:
            call.close()
            self.calls.pop(call.call_id, None)
            self.finishing.discard(call.call_id)
        if status is not EndStatus.OK:
            self.counters.calls_truncated += 1
        if bye is not None:
            msg, reply, key = bye
            # The invariant: 200 only for a durable item; otherwise the SRC retries later.
            if item_id is not None:
                self.responses.respond(key, reply, make_response(msg, 200, "OK"))
            else:
                self.responses.respond(
                    key,
                    reply,
                    make_response(
                        msg, 500, "Server Internal Error", headers=[("Retry-After", "5")]
                    ),
                )
        else:
            self._send_bye(call)

    def _end_without_audio(
        self,
        call: CallSession,
        reason: str | None,
        bye: tuple[SipMessage, Reply, TransactionKey] | None,
    ) -> None:
        """A session that never carried audio: no recording, so nothing is archived.

        Archiving it would make an item of a call nobody heard, with the parties
        the metadata claims; the signalling alone is not a recording. Its BYE is
        answered 200 (there is nothing to make durable); a session we end gets ours.
        """
        self.counters.calls_without_audio += 1
        log.warning("call ended without any audio (%s); nothing archived",
                    reason or "BYE from the SRC")
        call.stop_media()
        call.spool.discard()
        call.close()
        self.calls.pop(call.call_id, None)
        if bye is not None:
            msg, reply, key = bye
            self.responses.respond(key, reply, make_response(msg, 200, "OK"))
        else:
            self._send_bye(call)

    def _send_bye(self, call: CallSession) -> None:
        """Tell the SRC we ended the session (inactivity, session timer): best effort."""
        bye = call.bye_request(
            contact_host=self.config.contact_host, port=self.port_for(call.transport)
        )
        with contextlib.suppress(Exception):
            call.reply(bye.to_bytes())

    # -- timers and shutdown ---------------------------------------------------------------

    def check_calls(self, now: float) -> None:
        """Flush recording sessions' spools; end those silent, expired or too long."""
        for call in list(self.calls.values()):
            if call.state is not CallState.CONFIRMED:
                continue
            try:
                call.spool.flush()
            except OSError as exc:
                log.error("spool flush failed: %s", type(exc).__name__)
            reason = call.end_reason(now, self.config)
            if reason is not None:
                self.tasks.spawn(self._finish(call, EndStatus.TRUNCATED, reason), finishing=True)

    async def retry_spools(self) -> None:
        """Archive spools left by failed attempts (archive was down) or earlier crashes."""
        try:
            busy = {c.spool.spool_id for c in self.calls.values()}
            ids = await asyncio.to_thread(recover_spools, self.archive, exclude=busy)
        except Exception as exc:  # a background retry must never die
            log.error("spool retry failed: %s", type(exc).__name__)
            return
        self.archived.extend(ids)
        self.counters.calls_archived += len(ids)

    def release_live_calls(self) -> None:
        """At shutdown: live calls keep their spools (sealed, unlocked) for recovery."""
        for call in list(self.calls.values()):
            if call.call_id in self.finishing:
                continue
            call.stop_media()
            call.spool.release()
