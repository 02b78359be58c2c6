"""``yibao policy``: what a benefit-policy change does to the fund (政策测算), before it is made."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from yibao.domain.money import MoneyError, yuan_to_fen
from yibao.domain.policy import Policy

if TYPE_CHECKING:  # the replay (numpy, pyarrow) only for the commands that run it, not for every `yibao`
    from yibao.analytics.simulation import Reserve

policy_app = typer.Typer(no_args_is_help=True, help="Benefit policy: what-if replay of a proposal (政策测算).")

FUND_ROWS = (
    ("hifp_pay", "统筹基金"),
    ("hifmi_pay", "大病保险/职工大额"),
    ("cvlserv_pay", "公务员医疗补助"),
    ("hifob_pay", "大额补充/附加"),
    ("hifes_pay", "企业补充"),
    ("maf_pay", "医疗救助"),
    ("oth_pay", "其他基金"),
    ("fund_pay_sumamt", "基金支付合计"),
    ("act_pay_dedc", "起付线（个人）"),
    ("pool_prop_selfpay", "统筹内自付（个人）"),
    ("psn_part_amt", "个人负担合计"),
    ("acct_pay", "  其中个人账户"),
    ("psn_cash_pay", "  其中现金"),
)


def wan(fen: int) -> str:
    """Fen as 万元 with two decimals."""
    return f"{Decimal(fen) / 1_000_000:,.2f}"


def change(base: int, new: int) -> str:
    sign = f"{wan(new - base)}" if new < base else f"+{wan(new - base)}"
    return sign if not base else f"{sign} ({(new - base) / base:+.2%})"


def amount(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return yuan_to_fen(text)
    except (MoneyError, InvalidOperation):
        raise typer.BadParameter(f"{text!r} is not an amount in yuan", param_hint=option) from None


def print_report(report: dict[str, Any], console: Console) -> None:
    totals = report["totals"]
    period = report["period"]
    console.print(
        f"[bold]{report['claims']:,}[/bold] claims of {report['persons']:,} persons, "
        f"{period['first']} – {period['last']} ({period['months']} months), replayed in {report['seconds']} s"
    )
    for p in report["policies"]:
        console.print(f"  {p['insutype']}: {p['baseline']}  →  {p['proposal']}")
    for s in report["skipped"]:
        console.print(f"  [yellow]{s['claims']:,} claims of insutype {s['insutype']} not replayed: {s['why']}[/yellow]")
    table = Table(title="基金与个人负担 (万元)")
    for column in ("", "现行 baseline", "方案 proposal", "变化 change"):
        table.add_column(column, justify="left" if not column else "right")
    for name, label in FUND_ROWS:
        b, p = totals["baseline"][name], totals["proposal"][name]
        if b or p or name in ("hifp_pay", "fund_pay_sumamt", "psn_part_amt"):
            table.add_row(label, wan(b), wan(p), change(b, p))
    console.print(table)
    for key, title, count in (("by_hosp_lv", "按医院等级", "claims"), ("by_psn_type", "按人员类别", "claims"),
                              ("by_med_type", "按医疗类别", "claims"),
                              ("by_cost_band", "按个人年度医疗费用分段", "persons")):  # fmt: skip
        t = Table(title=f"{title} (万元)")
        t.add_column("", no_wrap=True)
        for column in (count, "基金", "Δ基金", "个人负担", "Δ个人负担", "Δ现金"):
            t.add_column(column, justify="right", no_wrap=True)
        for row in report[key]:
            b, c = row["baseline"], row["change"]
            t.add_row(row["label"], f"{row[count]:,}", wan(b["fund_pay_sumamt"]), wan(c["fund_pay_sumamt"]),
                      wan(b["psn_part_amt"]), wan(c["psn_part_amt"]), wan(c["psn_cash_pay"]))  # fmt: skip
        console.print(t)
    ceiling = report["ceiling_persons"]
    console.print(f"达到统筹基金封顶线的人数: {ceiling['baseline']:,} → {ceiling['proposal']:,}")
    for reserve in report["reserve"]:
        before, after = (
            f"{m:.2f}" if m is not None else "—" for m in (reserve["months_before"], reserve["months_after"])
        )
        console.print(
            f"{reserve['insutype']} 统筹基金可支付月数: {before} → {after} "
            f"(结余 {wan(reserve['balance'])} 万元, 月支出 {wan(reserve['monthly_spending'])} → "
            f"{wan(reserve['monthly_spending_after'])} 万元; {reserve.get('source', 'given')})"
        )


def ledger(url: str, baselines: list[Policy], err: Console) -> dict[str, Reserve]:
    """Each baseline's pooled fund from the database's ledger (app.contributions' fund indicators)."""
    from sqlalchemy.exc import SQLAlchemyError

    from yibao.analytics.simulation import Reserve
    from yibao.analytics.stored_replay import ledger_reserves

    try:
        found = ledger_reserves(url, [(p.admdvs, str(p.insutype)) for p in baselines])
    except SQLAlchemyError as exc:
        raise typer.BadParameter(
            f"cannot read the ledger: {str(exc).splitlines()[0]}", param_hint="--database"
        ) from None
    for p in baselines:
        if not any(f.insutype == str(p.insutype) for f in found):
            err.print(f"[yellow]{p.admdvs} {p.insutype}: no pooled fund in the ledger, no months of reserve[/yellow]")
    return {f.insutype: Reserve(f.balance, f.monthly_outgo, f"ledger {f.month}") for f in found}


def by_insutype(values: list[str], option: str, insutypes: list[str]) -> dict[str, int]:
    """``INSUTYPE=YUAN`` pairs, or one plain ``YUAN`` when one insurance type is replayed."""
    out: dict[str, int] = {}
    for value in values:
        insutype, _, yuan = value.rpartition("=")
        if not insutype:
            if len(insutypes) != 1:
                raise typer.BadParameter(f"name the insutype: {insutypes[0]}={value}", param_hint=option)
            insutype = insutypes[0]
        if insutype not in insutypes:
            raise typer.BadParameter(f"no --baseline for insutype {insutype}", param_hint=option)
        fen = amount(yuan, option)
        assert fen is not None
        out[insutype] = fen
    return out


@policy_app.command("simulate")
def simulate_cmd(
    claims: Annotated[Path, typer.Option(help="Claims of the period (Parquet, docs/policy-simulation.md).")],
    baseline: Annotated[list[Path], typer.Option(help="The policy in force; one per insutype (repeat).")],
    proposal: Annotated[list[Path], typer.Option(help="The proposed policy; one per insutype it changes.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    fund_balance: Annotated[
        list[str] | None,
        typer.Option(help="A pooled fund's balance, INSUTYPE=YUAN (or YUAN with one insutype): its months of reserve."),
    ] = None,
    monthly_spending: Annotated[
        list[str] | None,
        typer.Option(help="Its spending per month, INSUTYPE=YUAN; default: the baseline's over the claims."),
    ] = None,
    chunk_claims: Annotated[int, typer.Option(min=1, help="Claims held in memory at a time.")] = 2_000_000,
    database: Annotated[
        str | None,
        typer.Option(
            help="Read each baseline's pooled fund (balance, monthly outgo) from this node's ledger; "
            "--fund-balance and --monthly-spending override it."
        ),
    ] = None,
) -> None:
    """Replay every claim under the baseline and the proposal; print the change to the funds and to patients."""
    from yibao.analytics.replay import ReplayError
    from yibao.analytics.simulation import Reserve, simulate
    from yibao.files import FileError, load_policy

    err = Console(stderr=True)
    try:
        baselines = [load_policy(p) for p in baseline]
        proposals = [load_policy(p) for p in proposal]
        insutypes = [str(p.insutype) for p in baselines]
        balances = by_insutype(fund_balance or [], "--fund-balance", insutypes)
        monthly = by_insutype(monthly_spending or [], "--monthly-spending", insutypes)
        reserves = ledger(database, baselines, err) if database else {}
        if set(monthly) - set(balances) - set(reserves):
            raise typer.BadParameter("needs --fund-balance of the same insutype", param_hint="--monthly-spending")
        for k, v in balances.items():  # the options override the ledger's figures
            if k in monthly or k not in reserves:
                reserves[k] = Reserve(v, monthly.get(k))
            else:
                reserves[k] = Reserve(v, reserves[k].monthly_spending, f"given, monthly spending {reserves[k].source}")
        for k, v in monthly.items():
            if k not in balances:
                reserves[k] = Reserve(reserves[k].balance, v, f"{reserves[k].source}, monthly spending given")
        with err.status("replaying …") as status:

            def progress(rows: int) -> None:
                status.update(f"replaying … {rows:,} claims read")

            report = simulate(claims, baselines, proposals, chunk_claims=chunk_claims, progress=progress,
                              reserves=reserves)  # fmt: skip
    except (FileError, ReplayError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    print_report(report, Console())
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        err.print(f"report written to {json_out}")


@policy_app.command("export-claims")
def export_claims_cmd(
    year: Annotated[int, typer.Option(help="The local calendar year of the settlements.")],
    out: Annotated[Path, typer.Option(help="The claims file to write (Parquet).")],
    database: Annotated[
        str | None,
        typer.Option("--database", "--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
    ] = None,
    admdvs: Annotated[
        list[str] | None, typer.Option(help="Only persons insured in this region (repeat); default: all.")
    ] = None,
) -> None:
    """Write a year of this node's live settlements as the claims `yibao policy simulate` replays."""
    from sqlalchemy.exc import SQLAlchemyError

    from yibao.analytics.stored_replay import export_replay_claims, year_bounds
    from yibao.store.engine import make_engine

    try:
        year_bounds(year)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--year") from None
    with Console(stderr=True).status(f"exporting the settlements of {year} …"):
        try:
            done = export_replay_claims(make_engine(database), out, year, admdvs=admdvs or ())
        except SQLAlchemyError as exc:
            typer.echo(f"error: cannot read the settlements: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(2) from None
    regions = ", ".join(f"{k} {v:,}" for k, v in done.by_region.items()) or "none"
    typer.echo(f"{done.claims:,} claims of {done.persons:,} persons written to {out} (insured regions: {regions})")
    if len(done.by_region) > 1:
        typer.echo("note: several insured regions: replay each under its own policies (--admdvs)", err=True)
