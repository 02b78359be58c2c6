"""`yibao demo --regions 3`: three cities go live on three nodes of a national hub (docs/cross-region.md).

Three synthetic cities (Guangzhou 440100, Shanghai Qingpu 310118, Jiangsu Wujiang 320509; two with
``--regions 2``), each built into its own SQLite file with its own policies (examples/qingpu and
examples/wujiang for the two of the demonstration zone), the filing-free zones loaded in each; a hub and
a node for each city start as processes on 127.0.0.1. Each node's hospitals settle their own insured,
and a share of their outpatient visits (``guest_share``, 15 %) is of persons insured in another city:
the envelopes name their insured region, the treating node settles through the hub with the insured
node's policy (Qingpu and Wujiang patients of each other without a filing; Guangzhou's with the unfiled
cut). The consoles show the cross-region figures at /console/cross-region. ``--headless --settlements N``
stops once every node has settled N, prints each node's cross-region figures and ledger check, and
exits 0 only if every node's books balance.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from yibao.api.fsi.gateway import Gateway
from yibao.app import dashboard
from yibao.app.dashboard import CrossRegionFigures
from yibao.demo import demo_accounts
from yibao.domain.ledger import check_ledger
from yibao.domain.money import fen_to_yuan
from yibao.federation.launch import RegionNode, free_port, running_federation
from yibao.sim.city import OTHER_REGIONS, build_city
from yibao.sim.traffic import Patient, TrafficReport, run_traffic, sample_city, sample_guests
from yibao.sms import OUTBOX_ENV
from yibao.store.dashboard import SqlDashboardSource
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.filings import load_zones_file

CITIES = (("gz", "440100", "广州市"), ("qp", "310118", "上海市青浦区"), ("wj", "320509", "苏州市吴江区"))
ZONES = Path(__file__).resolve().parents[2] / "examples" / "zones.toml"
GUEST_SHARE = 0.15
PERSONS = 5_000
INSTITUTIONS = 20


@dataclass
class City:
    node: RegionNode
    name: str
    password: str
    report: TrafficReport | None = None
    error: str = ""


def port_or_free(port: int) -> int:
    """``port`` if nothing listens on it, else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def build(folder: Path, regions: int, port: int, persons: int, institutions: int, seed: int,
          console: Console) -> dict[str, City]:  # fmt: skip
    """The cities' databases, made afresh in ``folder``, with an administrator each."""
    folder.mkdir(parents=True, exist_ok=True)
    cities: dict[str, City] = {}
    for i, (node_id, admdvs, name) in enumerate(CITIES[:regions]):
        db_path = folder / f"{node_id}-{admdvs}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db_path}"
        started = time.monotonic()
        build_city(url, region=admdvs, persons=persons, institutions=institutions, seed=seed + i)
        db = Database(make_engine(url))
        try:
            load_zones_file(db, ZONES)
        finally:
            db.dispose()
        password, _ = demo_accounts(url)
        node = RegionNode(node_id, admdvs, url, port_or_free(port + i), folder / f"{node_id}.log")
        cities[node_id] = City(node, name, password)
        console.print(f"[bold]模拟城市[/bold] {name} ({admdvs}) {persons:,} 参保人、{institutions} 家定点医药机构，"
                      f"{time.monotonic() - started:.1f} 秒建成 ({db_path})")  # fmt: skip
    return cities


@contextmanager
def running(folder: Path, cities: dict[str, City]) -> Iterator[str]:
    """The hub and the nodes, each node checking its hospitals' signatures (one gateway key for all)."""
    keys = folder / "gateway.keys"
    keys.write_text(secrets.token_hex(32) + "\n")
    for node_id, city in cities.items():
        city.node.env = {"YIBAO_GATEWAY_KEY_FILE": str(keys), OUTBOX_ENV: str(folder / f"{node_id}.sms")}
        city.node.args = ("--workers", "1")
    with running_federation(folder, {k: c.node for k, c in cities.items()}, timeout=60) as hub:
        yield hub


def guests_of(cities: dict[str, City], seed: int) -> dict[str, tuple[Patient, ...]]:
    """For each node, employees of the other cities (sampled from their databases) as its guests."""
    insured = {k: sample_guests(c.node.url, c.node.admdvs, 1_000, seed) for k, c in cities.items()}
    return {k: tuple(p for other, ps in insured.items() if other != k for p in ps) for k in cities}


def settle(cities: dict[str, City], gateway: Gateway, rate: float, seed: int, settlements: int | None,
           guest_share: float) -> None:  # fmt: skip
    """Traffic at every node at once (one thread each), until each has ``settlements`` (or Ctrl-C)."""
    guests = guests_of(cities, seed)
    duration = settlements / rate * 4 + 60 if settlements else 7 * 24 * 3600.0

    def one(city: City, index: int) -> None:
        n = city.node
        try:
            sample = sample_city(n.url, n.admdvs, 5_000, seed)
            if n.admdvs in OTHER_REGIONS:  # their examples hold no residents' policy
                sample = replace(sample, residents=())
            city.report = run_traffic(n.base, rate, duration, n.url, seed=seed + index, region=n.admdvs, city=sample,
                                      max_settlements=settlements, gateway=gateway, guests=guests[n.node_id],
                                      guest_share=guest_share, concurrency=8)  # fmt: skip
        except Exception as exc:  # reported with the figures; the others go on
            city.error = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=one, args=(c, i), name=f"traffic-{k}", daemon=True)
               for i, (k, c) in enumerate(cities.items())]  # fmt: skip
    for th in threads:
        th.start()
    for th in threads:
        while th.is_alive():
            th.join(timeout=0.5)


def run(database: Path, port: int, regions: int, persons: int | None, institutions: int | None, rate: float,
        seed: int, settlements: int | None, guest_share: float = GUEST_SHARE) -> int:  # fmt: skip
    """Build, serve, settle; with ``settlements`` (headless) stop and check. The exit status."""
    console = Console()
    folder = database.parent / f"{database.stem}-regions"
    cities = build(folder, regions, port, persons or PERSONS, institutions or INSTITUTIONS, seed, console)
    with running(folder, cities) as hub:
        gateway = Gateway.from_file(folder / "gateway.keys")
        console.rule(f"[bold]国家平台 hub {hub}[/bold]   {len(cities)} 个节点")
        for city in cities.values():
            n = city.node
            console.print(f"[bold]{city.name} {n.admdvs}[/bold]  控制台 {n.base}/console  异地结算 "
                          f"{n.base}/console/cross-region  登录 admin / [bold]{city.password}[/bold]")  # fmt: skip
        with console.status("各地医院结算中，含异地就医 (Ctrl-C 停止)…"):
            try:
                settle(cities, gateway, rate, seed, settlements, guest_share)
            except KeyboardInterrupt:
                console.print("已停止。")
        for city in cities.values():
            if city.report:
                console.print(f"[bold]{city.name}[/bold]")
                for line in city.report.lines():
                    console.print(line, highlight=False)
            if city.error:
                console.print(f"[red]{city.name}: {city.error}[/red]")
    return report_and_check(console, cities)


def report_and_check(console: Console, cities: dict[str, City]) -> int:
    """Each node's cross-region figures (today) and its ledger check; 0 only if every book balances and
    every node's traffic ran."""
    failed = any(c.error for c in cities.values())
    table = Table(title="异地就医直接结算 (cross-region figures, today)", title_justify="left")
    for column in ("节点 node", "就医地结算 treated here", "基金 fund (元)", "参保地结算 insured here",
                   "基金 fund (元)", "应收 owed to us (元)", "应付 owed by us (元)", "ledger check"):  # fmt: skip
        table.add_column(column, justify="left" if column.startswith("节点") else "right")
    pairs = Table(title="按地区对 per region pair (today)", title_justify="left")
    for column in ("就医地 treated in", "参保地 insured in", "笔数 settlements", "基金 fund (元)",
                   "基金+个账 cleared (元)"):  # fmt: skip
        pairs.add_column(column, justify="right")
    for city in cities.values():
        figures, problems = node_figures(city.node.url)
        failed = failed or bool(problems)
        t, i = figures.treated_today, figures.insured_today
        check = "[green]balanced[/green]" if not problems else f"[red]{len(problems)} difference(s)[/red]"
        table.add_row(f"{city.name} {city.node.admdvs}", f"{t.settlements:,}", f"{fen_to_yuan(t.fund_pay_sumamt):,}",
                      f"{i.settlements:,}", f"{fen_to_yuan(i.fund_pay_sumamt):,}",
                      f"{fen_to_yuan(figures.owed_to_us):,}", f"{fen_to_yuan(figures.owed_by_us):,}",
                      check)  # fmt: skip
        for p in figures.treated:
            pairs.add_row(p.here, f"{p.other_name} {p.other}", f"{p.today.settlements:,}",
                          f"{fen_to_yuan(p.today.fund_pay_sumamt):,}", f"{fen_to_yuan(p.today.cleared):,}")  # fmt: skip
        for problem in problems[:10]:
            console.print(f"[red]{city.name} DIFF {problem}[/red]")
    console.print(table)
    console.print(pairs)
    if failed:
        console.print("[red]ledger check: differences, or a node's traffic failed[/red]")
        return 1
    console.print("[green]ledger check: every node's postings balanced, funds, payables and clearing accounts "
                  "equal the settlements[/green]")  # fmt: skip
    return 0


def node_figures(url: str) -> tuple[CrossRegionFigures, list[str]]:
    db = Database(make_engine(url))
    try:
        with SqlDashboardSource(db).reading() as store:
            figures = dashboard.cross_region_figures(store, datetime.now(UTC))
        with db.transaction(write=False) as store:
            problems = [str(p) for p in check_ledger(store.ledger_facts())]
    finally:
        db.dispose()
    return figures, problems
