"""Sealing throughput: our chunked AES-256-GCM vs raw ``cryptography`` AESGCM, same data, same run.

    python bench/bench_seal.py [--seconds 2]

Prints MB/s for seal and unseal at 4 KiB, 1 MiB and 64 MiB, with the ratio to the
raw one-shot AESGCM baseline (which cannot stream, range-read or detect truncation).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys import new_dek, seal_bytes, unseal_bytes

SIZES = {"4 KiB": 4 * 1024, "1 MiB": 1024 * 1024, "64 MiB": 64 * 1024 * 1024}


def rate(fn: Callable[[], object], size: int, seconds: float) -> float:
    """Best-of-rounds MB/s (1 MB = 10^6 bytes)."""
    best = 0.0
    end = time.perf_counter() + seconds
    while True:
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - t0
            if elapsed > min(0.25, seconds):
                break
        best = max(best, n * size / elapsed / 1e6)
        if time.perf_counter() > end:
            return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    dek = new_dek()
    aead = AESGCM(dek)
    nonce = os.urandom(12)
    print(f"{'size':>7} | {'raw seal':>9} {'our seal':>9} {'ratio':>6} | "
          f"{'raw open':>9} {'our open':>9} {'ratio':>6}   (MB/s)")
    for label, size in SIZES.items():
        data = os.urandom(size)
        raw_ct = aead.encrypt(nonce, data, b"aad")
        sealed = seal_bytes(data, dek, "item/original")
        rs = rate(lambda d=data: aead.encrypt(nonce, d, b"aad"), size, args.seconds)
        os_ = rate(lambda d=data: seal_bytes(d, dek, "item/original"), size, args.seconds)
        ro = rate(lambda c=raw_ct: aead.decrypt(nonce, c, b"aad"), size, args.seconds)
        oo = rate(lambda s=sealed: unseal_bytes(s, dek, "item/original"), size, args.seconds)
        print(f"{label:>7} | {rs:9.0f} {os_:9.0f} {os_ / rs:6.0%} | "
              f"{ro:9.0f} {oo:9.0f} {oo / ro:6.0%}")


if __name__ == "__main__":
    main()
