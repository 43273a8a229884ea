"""Run sipp (Debian ``sip-tester``) as an independent SIPREC client against our server."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.ingest.sip.client import find_pcap

SCENARIOS = Path(__file__).parent / "scenarios"


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if found is None:
        if IN_CI:
            pytest.fail("sipp (Debian package sip-tester) is required under CI")
        pytest.skip("sipp not installed (apt-get install sip-tester)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return int(udp.getsockname()[1])


@dataclass
class SippRun:
    src_rc: int
    media_rc: int
    log: str


def run_siprec(
    srs_port: int, workdir: Path, *, calls: int = 1, rate: int = 10, timeout_s: float = 60.0
) -> SippRun:
    """Two sipp processes: the SRC (SIP + stream 1) and a helper playing stream 2."""
    sipp = sipp_binary()
    pcap = str(find_pcap("g711a.pcap"))
    helper_port = free_port()
    common = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-trace_err", "-key", "pcap", pcap]
    media_cmd = [
        sipp,
        "-sf",
        str(SCENARIOS / "siprec_media.xml"),
        "-p",
        str(helper_port),
        "-mp",
        str(free_port()),
        "-m",
        str(calls),
        *common,
        "-error_file",
        str(workdir / "media.err"),
    ]
    src_cmd = [
        sipp,
        f"127.0.0.1:{srs_port}",
        "-sf",
        str(SCENARIOS / "siprec_src.xml"),
        "-p",
        str(free_port()),
        "-mp",
        str(free_port()),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(calls),
        "-key",
        "srs",
        str(srs_port),
        "-key",
        "media2",
        str(helper_port),
        "-key",
        "dtmf",
        str(find_pcap("dtmf_2833_1.pcap")),
        "-timeout",
        f"{int(timeout_s)}s",
        *common,
        "-error_file",
        str(workdir / "src.err"),
    ]
    with (workdir / "media.out").open("wb") as media_out, (workdir / "src.out").open("wb") as out:
        media = subprocess.Popen(media_cmd, stdout=media_out, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            src = subprocess.run(
                src_cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                timeout=timeout_s + 10,
                check=False,
            )
            media_rc = media.wait(timeout=30)
        finally:
            if media.poll() is None:
                media.kill()
                media.wait()
    log = ""
    for name in ("src.err", "media.err"):
        path = workdir / name
        if path.exists():
            log += f"--- {name}\n" + path.read_text(errors="replace")[-3000:]
    return SippRun(src.returncode, media_rc, log)
