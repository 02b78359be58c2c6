"""The policy replay (政策测算) at city scale: a year of claims replayed under a baseline and a proposal.

    .venv/bin/python bench/policy_replay.py [--claims 1000000 --claims 10000000] [--dir /tmp/yibao-replay]

For each size, the claims are written once by ``yibao.sim.replay_claims`` (about 7.7 claims a person:
persons = claims / 7.7; kept in --dir for the next run) and replayed in a child process of its own by
``yibao.analytics.simulation.simulate``: Guangzhou's employees under employee-2022-12 against
examples/policy-simulation/employee-proposal.toml, its residents under resident-illustrative against the
same file with a 大病保险 threshold of 15,000 instead of 18,000 — every claim is replayed under two
policies. Prints per size: the claims and persons, seconds to write them, seconds of the replay (reading
the Parquet included) and of the whole child process, claims per second, and the child's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_PER_PERSON = 7.7


def policies(folder: Path) -> tuple[list[Path], list[Path]]:
    gz = ROOT / "examples" / "guangzhou"
    resident = (gz / "resident-illustrative.toml").read_text(encoding="utf-8")
    proposal = folder / "resident-proposal.toml"
    proposal.write_text(resident.replace("threshold = 18000", "threshold = 15000"), encoding="utf-8")
    baselines = [gz / "employee-2022-12.toml", gz / "resident-illustrative.toml"]
    return baselines, [ROOT / "examples" / "policy-simulation" / "employee-proposal.toml", proposal]


def child(claims: Path, folder: Path, chunk: int) -> None:
    from yibao.analytics.simulation import simulate
    from yibao.files import load_policy

    baselines, proposals = policies(folder)
    report = simulate(claims, [load_policy(p) for p in baselines], [load_policy(p) for p in proposals],
                      chunk_claims=chunk)  # fmt: skip
    change = report["totals"]["change"]
    print(json.dumps({"claims": report["claims"], "persons": report["persons"], "seconds": report["seconds"],
                      "peak_mib": report["peak_rss_mib"], "fund_change": change["fund_pay_sumamt"]}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, action="append", help="claims (default: 1M and 10M)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/yibao-replay"), help="where the claims files are kept")
    parser.add_argument("--chunk", type=int, default=2_000_000, help="claims in memory at a time")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child, args.dir, args.chunk)
        return
    from yibao.sim.replay_claims import generate

    for size in args.claims or [1_000_000, 10_000_000]:
        persons = round(size / CLAIMS_PER_PERSON)
        path = args.dir / f"claims-{persons}.parquet"
        written = ""
        if not path.exists():
            made = generate(path, persons)
            written = f", written in {made.seconds:.1f} s"
        started = time.perf_counter()
        run = subprocess.run([sys.executable, __file__, "--child", str(path), "--dir", str(args.dir),
                              "--chunk", str(args.chunk)], capture_output=True, text=True, check=True)  # fmt: skip
        whole = time.perf_counter() - started
        r = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{r['claims']:>12,} claims of {r['persons']:,} persons ({path.stat().st_size / 1e6:,.0f} MB{written})")
        print(f"  replay under baseline and proposal: {r['seconds']:.1f} s ({whole:.1f} s the process), "
              f"{r['claims'] / r['seconds']:,.0f} claims/s, peak RSS {r['peak_mib']:,} MiB; "
              f"fund change {r['fund_change'] / 100:+,.2f} yuan", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
