"""One dispatcher behind every route: envelope → idempotency → use case → logged answer.

A message that changes something runs in one database transaction together with the record of
its answer in the message log, keyed by (fixmedins_code, msgid). A retry of the same message gets
the stored answer and moves no money again; the same msgid with a different body is refused.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from yibao.api.fsi.envelope import Envelope, EnvelopeError, dumps, parse_body, parse_envelope, response
from yibao.api.fsi.transactions import TRANSACTIONS
from yibao.app.errors import DuplicateMessage
from yibao.app.files import FileContent
from yibao.app.ports import UnitOfWork
from yibao.app.records import Context, LoggedMessage, local_date
from yibao.domain.errors import DomainError

log = logging.getLogger("yibao.fsi")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Dispatcher:
    def __init__(self, db: UnitOfWork, admdvs: str = "000000") -> None:
        self.db = db
        self.admdvs = admdvs
        """This node's region, the first six digits of every inf_refmsgid."""

    def handle(self, raw: bytes, path_infno: str | None = None) -> str | FileContent:
        """The answer to one request: the response envelope as JSON, or a file for 9102."""
        received = utcnow()
        try:
            env = parse_envelope(parse_body(raw), path_infno)
        except EnvelopeError as exc:
            return self.error(str(exc), received)
        txn = TRANSACTIONS.get(env.base_infno)
        if txn is None:
            return self.error(f"infno: 交易 {env.infno} 暂不支持", received)
        ctx = Context(
            fixmedins_code=env.fixmedins_code,
            msgid=env.msgid,
            infno=env.base_infno,
            now=received,
            today=local_date(received),
            mdtrtarea_admvs=env.mdtrtarea_admvs,
            opter=env.opter,
        )
        try:
            if not txn.writes:
                with self.db.transaction(write=False) as store:
                    output, _ = txn.handler(store, ctx, env.input)
                return output if isinstance(output, FileContent) else self.answer(output, received)
            with self.db.transaction() as store:
                done = store.logged(env.fixmedins_code, env.msgid)
                if done is not None:
                    return self.replay(done, env.body_hash, received)
                output, ref = txn.handler(store, ctx, env.input)
                answer = self.answer(output, received)
                store.log_message(
                    env.fixmedins_code,
                    env.msgid,
                    LoggedMessage(env.base_infno, env.body_hash, answer, ref),
                    received,
                )
            return answer
        except (DomainError, EnvelopeError) as exc:
            return (txn.writes and self.logged_meanwhile(env, received)) or self.error(str(exc), received)
        except DuplicateMessage:
            # the same message ran concurrently and committed first: answer as it did
            first = self.logged_meanwhile(env, received)
            assert first is not None
            return first
        except Exception:
            try:
                first = self.logged_meanwhile(env, received) if txn.writes else None
            except Exception:
                first = None
            if first is not None:
                return first
            log.exception("infno %s msgid %s from %s failed", env.base_infno, env.msgid, env.fixmedins_code)
            return self.error("系统错误，交易未完成，请稍后重试或冲正(2601)", received)

    def logged_meanwhile(self, env: Envelope, received: datetime) -> str | None:
        """The answer of this msgid if a concurrent duplicate committed it while this one ran.

        The duplicate may have been refused, or failed on a unique index, only because the first had
        settled the lines or taken the rows meanwhile (it waited for their locks): it gets the first's answer.
        """
        with self.db.transaction(write=False) as store:
            first = store.logged(env.fixmedins_code, env.msgid)
        return None if first is None else self.replay(first, env.body_hash, received)

    def answer(self, output: Any, received: datetime) -> str:
        return dumps(response(0, output, None, received, utcnow(), self.admdvs))

    def error(self, message: str, received: datetime) -> str:
        return dumps(response(-1, None, message, received, utcnow(), self.admdvs))

    def replay(self, done: LoggedMessage, body_hash: str, received: datetime) -> str:
        if done.body_hash != body_hash:
            return self.error("msgid: 报文ID已使用，且报文内容与原报文不同", received)
        return done.response
