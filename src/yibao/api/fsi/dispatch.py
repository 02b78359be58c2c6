"""One dispatcher behind every route: envelope → idempotency → use case → logged answer.

A message that changes something runs in one database transaction together with the record of
its answer in the message log, keyed by (fixmedins_code, msgid). A retry of the same message gets
the stored answer and moves no money again: its own transaction fails on the log's primary key (or
sooner, finding the work done) and is rolled back. The same msgid with a different body is refused.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from yibao.api.fsi.envelope import (
    Envelope,
    EnvelopeError,
    dumps,
    legacy_body_hash,
    parse_body,
    parse_envelope,
    response,
)
from yibao.api.fsi.gateway import Caller
from yibao.api.fsi.transactions import TRANSACTIONS
from yibao.app.cross_region import Federation, HubNeeded
from yibao.app.files import FileContent
from yibao.app.ports import UnitOfWork
from yibao.app.records import Context, LoggedMessage, local_date
from yibao.app.signin import VALID_FOR, signed_in
from yibao.app.voucher import CodeVerifier
from yibao.domain.errors import DomainError

log = logging.getLogger("yibao.fsi")
SIGN_IN, SIGN_OUT = "9001", "9002"
HUB_CALLS = 4
"""At most this many calls to other nodes a writing message makes (e.g. 2208: reverse there, then here)."""
TRUST_SIGN_IN = timedelta(seconds=30)


class SignInTrust:
    """The sign-ins this process found valid lately: sign_no → (fixmedins_code, until when it is
    trusted without asking the database). Lapsed entries are dropped whenever the table has doubled
    since the last sweep, so it holds about the sign-ins of the last TRUST_SIGN_IN: HIS terminals
    sign in afresh every day, and a soak saw a table emptied only at 10,000 entries grow by about
    120 a minute in each worker."""

    def __init__(self, sweep_at: int = 1024) -> None:
        self._until: dict[str, tuple[str, datetime]] = {}
        self._least = self._sweep_at = sweep_at

    def __len__(self) -> int:
        return len(self._until)

    def trusted(self, sign_no: str, fixmedins_code: str, now: datetime) -> bool:
        known = self._until.get(sign_no)
        return known is not None and known[0] == fixmedins_code and now < known[1]

    def trust(self, sign_no: str, fixmedins_code: str, until: datetime, now: datetime) -> None:
        if len(self._until) >= self._sweep_at:
            # a copy of the items first: another thread (a node of several) may add one meanwhile
            self._until = {k: v for k, v in list(self._until.items()) if v[1] > now}
            self._sweep_at = max(self._least, 2 * len(self._until))
        self._until[sign_no] = (fixmedins_code, until)

    def forget(self, sign_no: str) -> None:
        self._until.pop(sign_no, None)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Dispatcher:
    def __init__(
        self,
        db: UnitOfWork,
        admdvs: str = "000000",
        codes: CodeVerifier | None = None,
        federation: Federation | None = None,
        durable_visits: bool = False,
    ) -> None:
        self.db = db
        self.admdvs = admdvs
        """This node's region, the first six digits of every inf_refmsgid."""
        self.codes = codes
        """Verifies voucher codes (1162)."""
        self.federation = federation
        """The other nodes through the hub, when this node is one of several."""
        self.durable_visits = durable_visits
        """Every commit waits for the disk, a visit's records too (transactions.VISIT_RECORDS)."""
        self.sign_ins = SignInTrust()

    def handle(self, raw: bytes, path_infno: str | None = None, caller: Caller | None = None) -> str | FileContent:
        """The answer to one request: the response envelope as JSON, or a file for 9102. ``caller``:
        who the gateway's signature check let in, if the server checks signatures."""
        received = utcnow()
        try:
            env = parse_envelope(parse_body(raw), path_infno)
        except EnvelopeError as exc:
            return self.error(str(exc), received)
        if caller is not None and caller.fixmedins_code not in (None, env.fixmedins_code):
            return self.error(
                f"fixmedins_code: {env.fixmedins_code} 与网关签名的机构 {caller.fixmedins_code} 不符", received
            )
        txn = TRANSACTIONS.get(env.base_infno)
        if txn is None:
            return self.error(f"infno: 交易 {env.infno} 暂不支持", received)
        if txn.infno != SIGN_IN:
            try:
                self.check_signed_in(env, received)
            except DomainError as exc:
                # a message answered already gets its answer, whatever became of the sign-in since:
                # the HIS resending after a lost answer must learn that it was done
                return (txn.writes and self.logged_meanwhile(env, received)) or self.error(str(exc), received)
        ctx = Context(
            fixmedins_code=env.fixmedins_code,
            msgid=env.msgid,
            infno=env.base_infno,
            now=received,
            today=local_date(received),
            mdtrtarea_admvs=env.mdtrtarea_admvs,
            opter=env.opter,
            codes=self.codes,
            federation=self.federation,
            insuplc_admdvs=env.insuplc_admdvs,
        )
        try:
            if not txn.writes:
                with self.db.transaction(write=False) as store:
                    output, _ = txn.handler(store, ctx, env.input)
                return output if isinstance(output, FileContent) else self.answer(output, received)
            # No look in the message log first: a message that was answered already fails on the log's
            # primary key (or earlier, finding its work done) and the except clauses replay the answer.
            if self.federation is not None:
                ctx = replace(ctx, hub_answers={})
            for _ in range(HUB_CALLS):
                try:
                    with self.db.transaction(durable=txn.durable or self.durable_visits) as store:
                        output, ref = txn.handler(store, ctx, env.input)
                        answer = self.answer(output, received)
                        store.log_message(
                            env.fixmedins_code,
                            env.msgid,
                            LoggedMessage(env.base_infno, env.body_hash, answer, ref),
                            received,
                        )
                    return answer
                except HubNeeded as need:  # rolled back: ask the hub with no lock held, then run it again
                    assert self.federation is not None and ctx.hub_answers is not None
                    asked = self.federation.call(need.op, need.to_admdvs, need.msgid, need.payload)
                    ctx.hub_answers[need.msgid] = (need.payload, asked)
            raise RuntimeError(f"{env.base_infno} needs more than {HUB_CALLS} hub calls")
        except (DomainError, EnvelopeError) as exc:
            return (txn.writes and self.logged_meanwhile(env, received)) or self.error(str(exc), received)
        except Exception:
            try:
                first = self.logged_meanwhile(env, received) if txn.writes else None
            except Exception:
                first = None
            if first is not None:
                return first
            log.exception("infno %s msgid %s from %s failed", env.base_infno, env.msgid, env.fixmedins_code)
            return self.error("系统错误，交易未完成，请稍后重试或冲正(2601)", received)

    def check_signed_in(self, env: Envelope, received: datetime) -> None:
        """The envelope's sign_no is a valid sign-in of its institution (signin.signed_in). A sign-in
        found valid is trusted for a short while without asking again; a sign-out through this
        process ends that at once, one through another worker process within TRUST_SIGN_IN."""
        signing_out = env.infno.startswith(SIGN_OUT)
        if signing_out:
            self.sign_ins.forget(env.sign_no)  # trusted no more from here on
        elif self.sign_ins.trusted(env.sign_no, env.fixmedins_code, received):
            return
        with self.db.transaction(write=False) as store:
            record = signed_in(store, env.sign_no, env.fixmedins_code, received)
        if not signing_out:
            until = min(received + TRUST_SIGN_IN, record.sign_time + VALID_FOR)
            self.sign_ins.trust(env.sign_no, env.fixmedins_code, until, received)

    def logged_meanwhile(self, env: Envelope, received: datetime) -> str | None:
        """The answer of this msgid if a concurrent duplicate committed it while this one ran.

        The duplicate may have been refused, or failed on a unique index, only because the first had
        settled the lines or taken the rows meanwhile (it waited for their locks): it gets the first's answer.
        """
        with self.db.transaction(write=False) as store:
            first = store.logged(env.fixmedins_code, env.msgid)
        return None if first is None else self.replay(first, env, received)

    def answer(self, output: Any, received: datetime) -> str:
        return dumps(response(0, output, None, received, utcnow(), self.admdvs))

    def error(self, message: str, received: datetime) -> str:
        return dumps(response(-1, None, message, received, utcnow(), self.admdvs))

    def replay(self, done: LoggedMessage, env: Envelope, received: datetime) -> str:
        if done.body_hash != env.body_hash and done.body_hash != legacy_body_hash(env.base_infno, env.input):
            return self.error("msgid: 报文ID已使用，且报文内容与原报文不同", received)
        return done.response
