"""What each probed process's memory did between two periods of the probe (sitecustomize.py):

    python bench/memprobe/summary.py /tmp/probe            # from the 11th period to the last
    python bench/memprobe/summary.py /tmp/probe --since 20

One line a process (those above 50 MiB: the server's, the load generator's): resident memory then
and now, and where a change lies — anonymous memory, malloc's memory in use and free, pymalloc's
arenas and the bytes of live objects in them.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def rows_of(log: Path) -> tuple[str, list[dict[str, int]]]:
    head, *lines = log.read_text().splitlines()
    rows = [{k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])} for line in lines if " rss=" in line]
    return head, rows


def change(then: dict[str, int], now: dict[str, int], key: str) -> str:
    return f"{(now.get(key, 0) - then.get(key, 0)) / 1024:+.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--since", type=int, default=11, help="the period to compare the last one with")
    args = p.parse_args()
    for log in sorted(args.folder.glob("m-*.log")):
        head, rows = rows_of(log)
        if len(rows) <= args.since or rows[-1]["rss"] < 50 * 1024:
            continue
        then, now = rows[args.since - 1], rows[-1]
        mib = {key: change(then, now, key) for key in ("rss", "anon", "inuse", "free", "pybytes_kib")}
        print(
            f"{log.name} {head[:36]:36s} periods {args.since}→{len(rows)}: "
            f"rss {then['rss'] / 1024:.1f} → {now['rss'] / 1024:.1f} MiB ({mib['rss']}), anon {mib['anon']}, "
            f"malloc in use {mib['inuse']} free {mib['free']}, "
            f"pymalloc arenas {then.get('pyarenas', '-')} → {now.get('pyarenas', '-')} live {mib['pybytes_kib']}"
        )


if __name__ == "__main__":
    main()
