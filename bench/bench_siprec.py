"""How many concurrent G.711 calls (2 streams each) one SIPREC server process records
without losing a packet.

    python bench/bench_siprec.py [--steps 50,100,150,200] [--seconds 10] [--media rtp,srtp]

Starts ``commarchive``'s SIPREC server in its own process over a fresh archive
(embedded defaults: local store, SQLite catalog and FTS5 index) and, from this
process, opens N recording sessions (INVITE with two PCMA streams and RFC 7865
metadata), sends 20 ms RTP packets on every stream in real time for
``--seconds``, then BYEs every call and waits for the items. For each N it
reports packets sent vs recorded by the server (after letting it drain), the
kernel's receive-buffer drops on the server's RTP sockets, the server's CPU use
(one event loop: at most one core), its worst event-loop lag, and whether all
N calls were archived. Sealing the spool as audio arrives is part of the measured
work. The reference: commercial SIPREC recorders quote ~190 G.711 calls per core.

``--media rtp,srtp`` runs every step twice in the same server: plain RTP over
SIP/UDP (the baseline), then SRTP (AES_CM_128_HMAC_SHA1_80, SDES keys over SIP
over TLS with a throwaway CA), so the cost of decryption is read next to a
baseline measured on the same machine at the same time. "CPU µs/packet" is the
server's CPU time over the send-and-drain window divided by the packets it
recorded, and "calls per core" is what that costs per two-stream call (100
packets/s): unlike the CPU percentage it does not depend on how well the load
generator kept real time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pylibsrtp  # noqa: E402

from tests.ingest.sip.client import (  # noqa: E402
    JAN_AND_AGENT,
    SiprecClient,
    SrtpKey,
    metadata_xml,
)
from tests.pki import TestCa  # noqa: E402

PACKET_S = 0.02
RTP_PORTS = (16000, 32700)  # below the ephemeral range the load generator uses
PAYLOAD = bytes([0xD5]) * 160


def socket_drops(low: int, high: int) -> int:
    """Packets the kernel dropped on UDP sockets bound to ports [low, high) (ours only)."""
    total = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        port = int(fields[1].rsplit(":", 1)[1], 16)
        if low <= port < high:
            total += int(fields[-1])
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- server side (a separate process) ------------------------------------------


def serve(data_dir: Path, pki: Path) -> None:
    from commarchive.runtime import open_archive
    from commarchive.settings import Settings
    from ingest.sip import SipConfig, SipTlsConfig, start_sip_server

    archive = open_archive(Settings(data_dir=data_dir))

    async def main() -> None:
        handle = await start_sip_server(
            archive,
            SipConfig(
                port=0,
                rtp_port_range=RTP_PORTS,
                max_calls=2000,
                rtp_inactivity_timeout_s=120,
                bye_archive_timeout_s=120,
                tls=SipTlsConfig(cert=pki / "localhost.pem", key=pki / "localhost.key", port=0),
            ),
        )
        print(f"READY {handle.udp_port} {handle.tls_port}", flush=True)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip() == b"stats":
                c = handle.counters
                print(
                    f"STATS {c.rtp_packets} {c.dropped_rtp} {c.calls_archived} "
                    f"{c.archive_failures} {c.loop_lag_max_ms} "
                    f"{c.srtp_auth_failures + c.srtp_replays}",
                    flush=True,
                )
                c.loop_lag_max_ms = 0
        await handle.close()

    asyncio.run(main())


# -- load side ------------------------------------------------------------------


def run_step(
    proc: subprocess.Popen[str], port: int, calls: int, seconds: float,
    *, srtp: tuple[int, TestCa] | None = None,
) -> dict[str, float]:
    """One load step; with ``srtp`` (the TLS port and its CA) the streams are SRTP."""
    assert proc.stdin is not None and proc.stdout is not None

    def stats() -> list[int]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("stats\n")
        proc.stdin.flush()
        return [int(x) for x in proc.stdout.readline().split()[1:]]

    before = stats()
    if srtp is None:
        client = SiprecClient(port, timeout=30)
    else:
        client = SiprecClient(srtp[0], tls=srtp[1].client_context(), timeout=30)
    dialogs = []
    senders: list[pylibsrtp.Session | None] = []
    for _ in range(calls):
        keys = [SrtpKey.new(), SrtpKey.new()] if srtp else []
        dialog, resp = client.invite(
            ["1", "2"], metadata_xml(uuid.uuid4().hex, JAN_AND_AGENT), pts="8",
            crypto=[k.crypto() for k in keys] if srtp else None,
        )
        assert resp.status == 200, resp.reason
        dialogs.append(dialog)
        senders += [_sender(k) for k in keys] if srtp else [None, None]
    targets = [("127.0.0.1", p) for d in dialogs for p in d.ports]
    ssrcs = [0x1000 + i for i in range(len(targets))]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    header = struct.Struct(">BBHII")
    ticks = round(seconds / PACKET_S)
    # Every packet is made (and, for SRTP, protected) before the clock starts, the same
    # way for both media, so the load generator only sends in the timed window.
    frames = [
        [
            sender.protect(packet) if sender else packet
            for ssrc, sender in zip(ssrcs, senders, strict=True)
            for packet in [header.pack(0x80, 8, tick & 0xFFFF, (tick * 160) & 0xFFFFFFFF,
                                       ssrc) + PAYLOAD]
        ]
        for tick in range(ticks)
    ]
    cpu0 = cpu_seconds(proc.pid)
    start = time.monotonic()
    late = 0.0
    sent = 0
    for tick in range(ticks):
        due = start + tick * PACKET_S
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late = max(late, -delay)
        for target, data in zip(targets, frames[tick], strict=True):
            sock.sendto(data, target)
            sent += 1
    wall = time.monotonic() - start
    # Let the server drain what is queued in its sockets (a loaded VM may lag).
    mid = stats()
    for _ in range(60):
        time.sleep(0.5)
        again = stats()
        if again[0] == mid[0]:
            break
        mid = again
    drain = time.monotonic() - start - wall
    cpu = cpu_seconds(proc.pid) - cpu0
    drops = socket_drops(*RTP_PORTS)  # the sockets are fresh for this step
    t0 = time.monotonic()
    for dialog in dialogs:
        assert client.bye(dialog).status == 200
    archive_s = time.monotonic() - t0
    after = stats()
    client.close()
    sock.close()
    recorded = mid[0] - before[0]
    return {
        "calls": calls,
        "sent": sent,
        "recorded": recorded,
        "lost": sent - recorded,
        "socket_drops": drops,
        "cpu_pct": 100 * cpu / (wall + drain),
        "cpu_us_per_packet": 1e6 * cpu / max(1, mid[0] - before[0]),
        "drain_s": drain,
        "loop_lag_ms": mid[4],
        "archived": after[2] - before[2],
        "archive_s": archive_s,
        "sender_late_ms": 1000 * late,
        "srtp_refused": mid[5] - before[5],
    }


def _sender(key: SrtpKey) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key.key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    return pylibsrtp.Session(policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="50,100,150,200,250")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--media", default="rtp",
                        help="rtp, srtp or rtp,srtp (each step in each, same server)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.pki)
        return
    from commarchive.runtime import init_archive
    from commarchive.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "archive"
        init_archive(Settings(data_dir=data_dir)).close()
        ca = TestCa(Path(tmp) / "pki")
        ca.server()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data_dir), "--pki", str(ca.directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("READY"), line
            port, tls_port = (int(x) for x in line.split()[1:3])
            print(
                "| media | calls | streams | packets sent | recorded | lost | kernel drops "
                "| server CPU | CPU µs/packet | calls per core | worst loop lag | archived "
                "| BYE→200 for all (s) |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            steps = [int(s) for s in args.steps.split(",")]
            for calls, kind in [(c, m) for c in steps for m in args.media.split(",")]:
                r = run_step(proc, port, calls, args.seconds,
                             srtp=(tls_port, ca) if kind == "srtp" else None)
                print(
                    f"| {kind} | {calls} | {2 * calls} | {r['sent']} | {r['recorded']} "
                    f"| {r['lost']} | {r['socket_drops']} | {r['cpu_pct']:.0f}% "
                    f"| {r['cpu_us_per_packet']:.1f} "
                    f"| {1e6 / (r['cpu_us_per_packet'] * 2 / PACKET_S):.0f} "
                    f"| {r['loop_lag_ms']:.0f} ms | {r['archived']}/{calls} "
                    f"| {r['archive_s']:.1f} |",
                    flush=True,
                )
                if r["sender_late_ms"] > 100:
                    print(f"(sender fell {r['sender_late_ms']:.0f} ms behind at {calls} calls)")
                if r["srtp_refused"]:
                    print(f"({r['srtp_refused']} SRTP packets refused at {calls} calls)")
        finally:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(60)


if __name__ == "__main__":
    main()
