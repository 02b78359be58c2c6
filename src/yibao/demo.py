"""`yibao demo` (`make demo`): a city goes live.

A synthetic Guangzhou is built into a fresh SQLite file, a real `yibao serve` process starts, HIS
clients settle visits through the national interface, and the bureau watches /console. Ctrl-C stops
everything. `--headless --settlements N` stops after N settlements, prints the go-live figures and
exits 0 only if `ledger check` finds the books balanced.

The console needs a sign-in: the demo makes an administrator ``admin`` with a fresh random password
and prints it, with one insured person's ID and card numbers for the portal.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from yibao.api.fsi.gateway import Gateway
from yibao.app import accounts, dashboard
from yibao.app.dashboard import Figures
from yibao.domain.ledger import check_ledger
from yibao.domain.money import fen_to_yuan
from yibao.passwords import Argon2Hasher
from yibao.sim.city import build_city
from yibao.sim.fraud import FeeFraud
from yibao.sim.traffic import run_traffic
from yibao.sms import OUTBOX_ENV
from yibao.store.dashboard import SqlDashboardSource
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.personal import personal_for
from yibao.store.tables import person
from yibao.web.policy_simulation import SIMULATIONS_ENV

# Guangzhou's first afternoon on the national platform, 2021-07-12 until 16:30 (shared/seeds/000).
GO_LIVE = {"settlements": "165,251", "institutions": "688 / 1,307", "medfee": "113,975,000.00",
           "hifp": "69,204,000.00"}  # fmt: skip


def run(
    db_path: Path, port: int, persons: int, institutions: int, rate: float, seed: int, settlements: int | None
) -> int:
    console = Console()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db_path}"
    started = time.monotonic()
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"城市 {stage}", total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        city = build_city(url, persons=persons, institutions=institutions, seed=seed, progress=progress)
    console.print(f"[bold]模拟城市[/bold] {persons:,} 参保人、{institutions} 家定点医药机构，"
                  f"{time.monotonic() - started:.1f} 秒建成 ({db_path})")  # fmt: skip
    del city
    contribution_history(console, url, seed)
    service_applications(console, url, seed)
    simulations = policy_what_if(console, db_path, persons, seed)
    password, portal = demo_accounts(url)

    # the hospitals sign every request for the gateway (SM3-HMAC), each with its own secret from this key
    keys = db_path.with_suffix(".keys")
    keys.write_text(secrets.token_hex(32) + "\n")
    gateway = Gateway.from_file(keys)
    base = f"http://127.0.0.1:{port}"
    sms = db_path.with_suffix(".sms")  # the one-time codes of the e-voucher's activation, one JSON line each
    server = subprocess.Popen(
        [sys.executable, "-m", "yibao", "serve", "--port", str(port), "--workers", "1", "--no-upgrade"],
        env={
            **os.environ,
            "YIBAO_DATABASE_URL": url,
            "YIBAO_GATEWAY_KEY_FILE": str(keys),
            OUTBOX_ENV: str(sms),
            SIMULATIONS_ENV: str(simulations),
        },
    )
    try:
        wait_until_up(base, server)
        console.rule(f"[bold]控制台 {base}/console[/bold]   门户 {base}/portal   接口 {base}/docs")
        console.print(
            f"控制台登录 console sign-in: [bold]admin[/bold] / [bold]{password}[/bold]  (管理员 administrator)"
        )
        if portal:
            console.print(f"门户登录 portal sign-in: 身份证号 {portal[0]} · 社保卡号 {portal[1]}")
            console.print(f"电子凭证激活 e-voucher: {base}/portal/activate 身份证号 {portal[0]} · 姓名 {portal[2]}"
                          f" · 验证码 one-time code in {sms}")  # fmt: skip
        duration = settlements / rate * 4 + 30 if settlements else 7 * 24 * 3600.0
        # a few bills carry planted schemes (yibao.sim.fraud): the settlements' rule checks mark them, and
        # the post-event passes find them with the rest (/console/supervision)
        fraud = FeeFraud(FRAUD_RATE, db_path.with_suffix(".fraud.jsonl"))
        passes = PostEventPasses(console, url)
        with console.status("医院结算中 (Ctrl-C 停止)…") as status:

            def show(elapsed: float, done: int) -> None:
                status.update(f"医院结算中：{done:,} 笔，{elapsed:,.0f} 秒 — 控制台 {base}/console (Ctrl-C 停止)")

            try:
                passes.start()
                report = run_traffic(
                    base,
                    rate,
                    duration,
                    url,
                    seed=seed,
                    progress=show,
                    max_settlements=settlements,
                    gateway=gateway,
                    fraud=fraud,
                )
                for line in report.lines():
                    console.print(line, highlight=False)
            except KeyboardInterrupt:
                console.print("已停止。")
            finally:
                passes.stop()
                fraud.close()
        passes.once()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report_and_check(console, url)


FRAUD_RATE = 0.03
PASS_EVERY = 120.0


class PostEventPasses:
    """The bureau's post-event rules over the day's claims every two minutes while the hospitals settle,
    and once at the end (yibao.analytics.stored_claims)."""

    def __init__(self, console: Console, url: str) -> None:
        self.console, self.url = console, url
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._every, name="post-event", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _every(self) -> None:
        while not self.stopping.wait(PASS_EVERY):
            self.once()

    def once(self) -> None:
        from yibao.analytics.stored_claims import review_stored_claims  # DuckDB: loaded when first needed

        p = review_stored_claims(self.url)
        top = sorted((c for c in p.run.counts if c.findings), key=lambda c: -c.findings)[:5]
        rules = "、".join(f"{c.rule_id} {c.findings}" for c in top)
        self.console.print(f"事后监管 {p.run_id}: {p.visits:,} 次就诊，{p.run.total:,} 条疑点（新增 {p.stored:,}），"
                           f"{p.run.seconds:.1f} 秒 — {rules}", highlight=False)  # fmt: skip


def contribution_history(console: Console, url: str, seed: int) -> None:
    """Last month's contributions (yibao.sim.contributions: declarations, payments, retirees' credits), so that
    /console/funds and the portal's monthly credits have figures from the start (docs/contributions.md)."""
    from yibao.app.records import local_date
    from yibao.domain.contribution import add_months, month_of
    from yibao.sim.contributions import generate

    month = add_months(month_of(local_date(datetime.now(UTC).replace(tzinfo=None))), -1)
    db = Database(make_engine(url))
    try:
        with console.status(f"征缴 {month} …"):
            report = generate(db, "440100", month, month, seed=seed)
    finally:
        db.dispose()
    console.print(f"[bold]征缴[/bold] {month}：{report.employers:,} 家单位、{report.lines:,} 人次申报，"
                  f"{report.seconds:.1f} 秒 (更多月份: yibao contributions generate)")  # fmt: skip


def service_applications(console: Console, url: str, seed: int) -> None:
    """A few service applications of the past weeks (yibao.sim.services), so that the console's service board
    (/console/services) has figures from the start (docs/services.md)."""
    from yibao.sim.services import generate

    db = Database(make_engine(url))
    try:
        report = generate(db, "440100", datetime.now(UTC).replace(tzinfo=None), seed=seed)
    finally:
        db.dispose()
    console.print(f"[bold]经办服务[/bold] {report.text()}，{report.seconds:.1f} 秒 (/console/services)")


def policy_what_if(console: Console, db_path: Path, persons: int, seed: int) -> Path:
    """A year of synthetic claims for the city's insured replayed under Guangzhou's employee policy and the
    illustrative proposal (docs/policy-simulation.md), so that /console/policy-simulation has a report."""
    from yibao.analytics.simulation import simulate
    from yibao.files import load_policy
    from yibao.sim.city import POLICY_DIR
    from yibao.sim.replay_claims import generate

    folder = db_path.with_name(f"{db_path.stem}-simulations")
    claims = folder / "claims-2024.parquet"
    written = generate(claims, persons, year=2024, seed=seed)
    baselines = [
        load_policy(POLICY_DIR / "employee-2022-12.toml"),
        load_policy(POLICY_DIR / "resident-illustrative.toml"),
    ]
    proposal = load_policy(POLICY_DIR.parent / "policy-simulation" / "employee-proposal.toml")
    report = simulate(claims, baselines, [proposal])
    (folder / "employee-proposal.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"[bold]政策测算[/bold] {written.claims:,} 笔 2024 年结算按调整方案（示意）重算，"
                  f"{written.seconds + report['seconds']:.1f} 秒 (/console/policy-simulation)")  # fmt: skip
    return folder


def demo_accounts(url: str) -> tuple[str, tuple[str, str, str] | None]:
    """An administrator ``admin`` with a new random password; (the password, a person's (certno, card_no,
    psn_name))."""
    password = secrets.token_urlsafe(12)
    db = Database(make_engine(url))
    try:
        with db.transaction() as store:
            accounts.create_user(
                store,
                Argon2Hasher(),
                username="admin",
                password=password,
                role=accounts.Role.ADMIN,
                admdvs=accounts.ALL_REGIONS,
                display_name="演示管理员",
                now=datetime.now(UTC).replace(tzinfo=None),
                by=accounts.Principal("cli", "yibao-demo"),
            )
        with db.engine.connect() as conn:
            row = conn.execute(select(person).where(person.c.card_no_enc.is_not(None)).limit(1)).first()
        found = personal_for(db.engine.url).person_of(row._mapping) if row else None
    finally:
        db.dispose()
    return password, (found.certno, str(found.card_no), found.psn_name) if found else None


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server stopped while starting")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer at {base} within 60 s")


def report_and_check(console: Console, url: str) -> int:
    """The go-live figures of today, next to Guangzhou's first afternoon, and the ledger check."""
    db = Database(make_engine(url))
    try:
        with SqlDashboardSource(db).reading() as store:
            figures = dashboard.overview(store, datetime.now(UTC)).figures
        with db.transaction(write=False) as store:
            problems = check_ledger(store.ledger_facts())
    finally:
        db.dispose()
    console.print(figures_table(figures))
    if problems:
        for problem in problems:
            console.print(f"[red]DIFF {problem}[/red]")
        console.print(f"[red]ledger check: {len(problems)} difference(s)[/red]")
        return 1
    console.print("[green]ledger check: every posting balanced, funds and payables equal the settlements[/green]")
    return 0


def figures_table(f: Figures) -> Table:
    table = Table(title="今日实时结算 (go-live figures)", title_justify="left")
    table.add_column("指标")
    table.add_column("本次模拟", justify="right")
    table.add_column("广州 2021-07-12 首日至16:30", justify="right", style="dim")
    table.add_row("实时结算笔数 settlements", f"{f.settlements:,}", GO_LIVE["settlements"])
    table.add_row("发生结算的定点机构 institutions", f"{f.institutions:,}", GO_LIVE["institutions"])
    table.add_row("医疗总费用 medical costs (元)", f"{fen_to_yuan(f.medfee_sumamt):,}", GO_LIVE["medfee"])
    table.add_row("统筹基金支付 pooled fund (元)", f"{fen_to_yuan(f.hifp_pay):,}", GO_LIVE["hifp"])
    table.add_row("基金支付合计 all funds (元)", f"{fen_to_yuan(f.fund_pay_sumamt):,}", "")
    table.add_row("个人账户支付 personal accounts (元)", f"{fen_to_yuan(f.acct_pay):,}", "")
    table.add_row("个人现金支付 cash (元)", f"{fen_to_yuan(f.psn_cash_pay):,}", "")
    return table
