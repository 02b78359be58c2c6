"""How fast voucher QR codes are issued and verified, per SM2 backend, on one core (no database, no HTTP).

    .venv/bin/python bench/voucher.py [--n 5000] [--n-reference 100]

For each backend (tongsuopy: the hot path; gmalg: the pure-Python reference) prints codes issued and
verified per second and the p50/p99 of one issue (SM2 sign + encoding) and one verify (decoding + SM2
verify), plus the bare SM2 sign and verify for comparison. Keys are made fresh; nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from yibao.crypto.reference import GmalgSm2
from yibao.crypto.sm2 import Sm2Backend
from yibao.crypto.tongsuo import TongsuoSm2
from yibao.voucher.keys import AuthorityKeys
from yibao.voucher.token import issue, verify

INDEX = "E44010600000000000000000000001"


def timed(n: int, fn: Callable[[int], object]) -> tuple[float, float, float]:
    """(operations per second, p50 µs, p99 µs) of n calls."""
    samples: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    q = statistics.quantiles(samples, n=100)
    return n / total, q[49] * 1e6, q[98] * 1e6


def run(backend: Sm2Backend, n: int) -> None:
    keys = AuthorityKeys.generate(TongsuoSm2())
    signing, public = keys.signing, keys.public_keys
    pair = keys.keys[keys.newest]
    now = time.time()
    tokens = [issue(INDEX, now, signing, backend) for _ in range(min(n, 200))]
    message = b"x" * 100
    signature = backend.sign(pair.private, message)
    rows = [
        ("issue code", timed(n, lambda i: issue(INDEX, now, signing, backend))),
        ("verify code", timed(n, lambda i: verify(tokens[i % len(tokens)], now, public, backend))),
        ("SM2 sign", timed(n, lambda i: backend.sign(pair.private, message))),
        ("SM2 verify", timed(n, lambda i: backend.verify(pair.public, message, signature))),
    ]
    for what, (rate, p50, p99) in rows:
        print(f"{backend.name:10} {what:12} {rate:9,.0f}/s   p50 {p50:9,.0f} µs   p99 {p99:9,.0f} µs   (n={n})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000, help="operations per measurement, tongsuopy")
    parser.add_argument("--n-reference", type=int, default=100, help="operations per measurement, gmalg")
    args = parser.parse_args()
    run(TongsuoSm2(), args.n)
    run(GmalgSm2(), args.n_reference)


if __name__ == "__main__":
    main()
