"""`yibao contributions …`: employers, declarations, collection, deferral, arrears, the funds' indicators and
a contribution-rate proposal's what-if (docs/contributions.md). Every command goes through the use cases
of ``yibao.app.contributions``; amounts are yuan at this edge, fen inside."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from yibao.app import contributions as ca
from yibao.app.ports import Store
from yibao.app.records import LOCAL, local_date
from yibao.domain import contribution as c
from yibao.domain.errors import DomainError
from yibao.domain.money import Fen, fen_to_yuan, yuan_to_fen
from yibao.store.database import Database
from yibao.store.engine import make_engine

contributions_app = typer.Typer(
    no_args_is_help=True, help="Contributions (征缴): employers, declarations, collection, deferral, the funds."
)
T = TypeVar("T")

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
]
Region = Annotated[str, typer.Option(help="The pooling region (admdvs).")]
Month = Annotated[str, typer.Option(help="The month, YYYY-MM.")]
Day = Annotated[str | None, typer.Option(help="A local date, YYYY-MM-DD [today].")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _run(database_url: str | None, use: Callable[[Store], T], *, write: bool = True) -> T:
    db = Database(make_engine(database_url))
    try:
        with db.transaction(write=write) as store:
            return use(store)
    except DomainError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.dispose()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _day(text: str | None, name: str) -> date:
    if not text:
        return local_date(_now())
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"--{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _utc_on(day: date) -> datetime:
    """10:00 local time of the day, as naive UTC (how the ledger stores times)."""
    return datetime(day.year, day.month, day.day, 10, tzinfo=LOCAL).astimezone(UTC).replace(tzinfo=None)


def _yuan(fen: Fen) -> str:
    return f"{fen_to_yuan(fen):,}"


@contributions_app.command("employer")
def employer(emp_no: str, emp_name: str, region: Region = "440100", database_url: DbUrl = None) -> None:
    """Register an employer (参保单位)."""
    e = _run(database_url, lambda s: ca.register_employer(s, emp_no, emp_name, region, _now()))
    typer.echo(f"employer {e.emp_no} {e.emp_name} ({e.admdvs})")


@contributions_app.command("declare")
def declare(
    file: Annotated[Path, typer.Argument(help="CSV with a header: emp_no,month,psn_no,wage (wage in yuan).")],
    database_url: DbUrl = None,
) -> None:
    """Import payroll declarations (申报): one bill per employer and month, the receivable posted."""
    groups: dict[tuple[str, str], list[tuple[str, Fen]]] = {}
    try:
        with file.open(encoding="utf-8-sig", newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                try:
                    wage = yuan_to_fen(Decimal(row["wage"].strip()))
                    groups.setdefault((row["emp_no"].strip(), row["month"].strip()), []).append(
                        (row["psn_no"].strip(), wage)
                    )
                except (KeyError, AttributeError, InvalidOperation) as exc:
                    raise _fail(f"{file}: line {n}: emp_no,month,psn_no,wage expected ({exc})") from None
    except OSError as exc:
        raise _fail(f"{file}: {exc}") from None

    def use(store: Store) -> list[ca.Bill]:
        return [ca.declare(store, emp_no, month, wages, _now()) for (emp_no, month), wages in sorted(groups.items())]

    for bill in _run(database_url, use):
        typer.echo(f"{bill.emp_no} {bill.month}: {bill.headcount} employees, base {_yuan(bill.base_total)}, "
                   f"employer {c.rate_text(Decimal(bill.employer_rate))} {_yuan(bill.employer_amt)}, "
                   f"employee {c.rate_text(Decimal(bill.employee_rate))} {_yuan(bill.employee_amt)} "
                   f"{bill.reductions}".rstrip())  # fmt: skip


@contributions_app.command("collect")
def collect(
    month: Month,
    emp_no: Annotated[str, typer.Option(help="One employer [every unpaid, not deferred bill of the month].")] = "",
    paid_on: Day = None,
    region: Region = "440100",
    database_url: DbUrl = None,
) -> None:
    """Run a month's collection (实收): each bill paid in full, split into the pooled fund and personal accounts."""
    day = _day(paid_on, "paid-on")

    def use(store: Store) -> list[ca.Bill]:
        if emp_no:
            return [ca.collect(store, emp_no, month, _utc_on(day))]
        due = [b for b in store.bills(region, month, month, unpaid=True) if b.status(day) != c.DEFERRED]
        return [ca.collect(store, b.emp_no, month, _utc_on(day)) for b in due]

    paid = _run(database_url, use)
    fees = sum(b.late_fee for b in paid)
    typer.echo(f"{month}: {len(paid)} bills paid on {day}, {_yuan(sum(b.total for b in paid))} yuan"
               + (f" and late fees {_yuan(fees)} yuan" if fees else ""))  # fmt: skip


@contributions_app.command("defer")
def defer(
    emp_no: str,
    until: Annotated[str, typer.Option(help="The end of the deferral window, YYYY-MM-DD.")],
    month: Annotated[list[str], typer.Option(help="A month to defer; repeat for several.")],
    database_url: DbUrl = None,
) -> None:
    """Grant a deferral (缓缴): no late fee until the window ends; benefits and continuous months unaffected."""
    end, today = _day(until, "until"), _day(None, "today")
    bills = _run(database_url, lambda s: ca.defer(s, emp_no, month, end, today))
    typer.echo(f"{emp_no}: {', '.join(b.month for b in bills)} deferred until {end}")


@contributions_app.command("arrears")
def arrears(region: Region = "440100", today: Day = None, database_url: DbUrl = None) -> None:
    """Apply the arrears rule: staff of employers in arrears past the rule's months are suspended until paid."""
    day = _day(today, "today")
    run = _run(database_url, lambda s: ca.apply_arrears(s, region, day))
    typer.echo(f"{day}: {len(run.employers)} employers in arrears past the rule, {run.suspended} employees "
               f"suspended; {run.deferred} employers deferred (benefits kept)")  # fmt: skip


@contributions_app.command("retirees")
def retirees(month: Month, region: Region = "440100", database_url: DbUrl = None) -> None:
    """Credit retirees' personal accounts their fixed monthly amount (the 2021 reform's 定额划入)."""
    persons, total = _run(database_url, lambda s: ca.credit_retirees(s, region, month, _utc_on(c.month_end(month))))
    typer.echo(f"{month}: {persons} retirees credited {_yuan(total)} yuan")


@contributions_app.command("generate")
def generate(
    first: Annotated[str, typer.Option("--from", help="First month, YYYY-MM.")],
    last: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM.")],
    region: Region = "440100",
    seed: int = 1,
    defer_from: Annotated[str, typer.Option(help="First month of a deferral policy (e.g. 2020-02).")] = "",
    defer_to: Annotated[str, typer.Option(help="Its last month (e.g. 2020-06).")] = "",
    database_url: DbUrl = None,
) -> None:
    """The synthetic city's contributions month by month (`yibao sim city` first): employers, declarations,
    payments (some late, some deferred, a few never), retirees' credits, residents' enrolment."""
    from yibao.sim.contributions import generate as run

    if bool(defer_from) != bool(defer_to):
        raise _fail("--defer-from and --defer-to go together")
    db = Database(make_engine(database_url))
    try:
        with Console(stderr=True).status(f"contributions {first} … {last} …"):
            report = run(
                db, region, first, last, seed=seed, defer_months=(defer_from, defer_to) if defer_from else None
            )
    except DomainError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.dispose()
    for line in report.lines_text():
        typer.echo(line)
    for month, rate in report.rates.items():
        typer.echo(f"  {month}: employer rate {rate}")


@contributions_app.command("funds")
def funds(
    region: Region = "440100",
    insutype: Annotated[str, typer.Option(help="310 employees, 390 residents.")] = "310",
    database_url: DbUrl = None,
) -> None:
    """The pooled fund month by month from the ledger: income, spending, balance, months of reserve, and the
    rate rules against it."""
    if insutype not in c.POOLED_FUND:
        raise _fail(f"--insutype: one of {', '.join(c.POOLED_FUND)}")
    today = local_date(_now())
    view = _run(database_url, lambda s: ca.funds_view(s, region, region, insutype, "", today), write=False)
    table = Table(title=f"{view.admdvs} {insutype} pooled fund (from the ledger)", title_justify="left")
    for name in ("month", "income", "spending", "to accounts", "other", "balance", "months of reserve"):
        table.add_column(name, justify="left" if name == "month" else "right")
    for m in view.months:
        table.add_row(m.month, _yuan(m.income), _yuan(m.spending), _yuan(m.to_accounts), _yuan(m.other),
                      _yuan(m.balance), "—" if m.reserve_months is None else f"{m.reserve_months:.1f}")  # fmt: skip
    Console().print(table)
    for trigger in view.triggers:
        typer.echo(("● " if trigger.in_force and trigger.condition_met else "○ ") + trigger.text)


@contributions_app.command("simulate")
def simulate(
    employer_rate: Annotated[str | None, typer.Option(help="Proposed employer base rate in %, e.g. 5.5.")] = None,
    employee_rate: Annotated[str | None, typer.Option(help="Proposed employee base rate in %, e.g. 2.")] = None,
    region: Region = "440100",
    first: Annotated[str, typer.Option("--from", help="First declared month [the latest 12].")] = "",
    last: Annotated[str, typer.Option("--to", help="Last declared month.")] = "",
    top: Annotated[int, typer.Option(help="Employers to list.")] = 10,
    database_url: DbUrl = None,
) -> None:
    """A contribution-rate proposal over the declared months: income change, each employer's burden change,
    and the effect on the pooled fund's months of reserve."""
    proposal = c.Proposal(
        region, c.EMPLOYEE, _rate(employer_rate, "employer-rate"), _rate(employee_rate, "employee-rate")
    )
    result = _run(database_url, lambda s: ca.simulate_proposal(s, proposal, first, last), write=False)
    typer.echo(f"{result.first} … {result.last} ({result.months} months), {len(result.employers)} employers")
    typer.echo(f"income {_yuan(result.income_before)} → {_yuan(result.income_after)} yuan: "
               f"change {_yuan(result.income_change)} (pooled fund {_yuan(result.pool_change)})")  # fmt: skip
    typer.echo(f"balance {_yuan(result.balance_before)} → {_yuan(result.balance_after)} yuan; months of reserve "
               f"{_months(result.reserve_before)} → {_months(result.reserve_after)}")  # fmt: skip
    for e in result.employers[:top]:
        typer.echo(
            f"  {e.emp_no} {e.emp_name} ({e.headcount}): {_yuan(e.before)} → {_yuan(e.after)} ({_yuan(e.change)})"
        )


def _rate(text: str | None, name: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.strip().rstrip("%")) / 100
    except InvalidOperation:
        raise _fail(f"--{name}: {text!r} is not a percentage") from None


def _months(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.1f}"
