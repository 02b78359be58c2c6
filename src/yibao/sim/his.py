"""A hospital information system's side of the national interface: envelopes over real HTTP."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import socket
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httptools
import httpx
import simplejson

from yibao.api.fsi.gateway import Signer

_SERIAL = itertools.count(random.randrange(10000))


class KeepAlive:
    """One keep-alive HTTP/1.1 connection to a server on 127.0.0.1, opened on first use: what the
    simulator's and the benchmarks' client threads post through. A request is written to the socket
    as it is and the answer read by httptools' parser (the one uvicorn serves with): 46 µs of the
    client's CPU a request against 197 µs through http.client, whose response and header objects
    are Python, and the clients share the machine with the server they measure. A failed request
    closes it; the next one reconnects.

    A connection the server closed while it was idle (a worker replaced, ``yibao serve --max-requests``)
    fails the next request, unread, with a reset: that request goes once more on a new connection, as
    HTTP clients do (and should a reset have come after all from a server that read it, the platform
    answers each msgid once)."""

    def __init__(self, port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None

    def post(self, body: bytes, headers: dict[str, str] | None = None, path: str = "/fsi/api/callService") -> bytes:
        """The answer's body; OSError or HTTPException (also for a status other than 200) otherwise."""
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        while True:
            reused = self.sock is not None
            try:
                if self.sock is None:
                    self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sock.sendall(request)
                status, data = self._answer(self.sock)
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if not (reused and isinstance(exc, ConnectionResetError | BrokenPipeError)):
                    raise
        if status != 200:
            raise http.client.HTTPException(f"HTTP {status}: {data[:200]!r}")
        return data

    def _answer(self, sock: socket.socket) -> tuple[int, bytes]:
        answer = _Answer()
        parser = answer.parser = httptools.HttpResponseParser(answer)
        received = False
        while not answer.complete:
            chunk = sock.recv(65536)
            if not chunk:  # closed: before any of the answer (as a reset, sent again if reused), or within it
                if received:
                    raise http.client.IncompleteRead(b"".join(answer.body))
                raise http.client.RemoteDisconnected("Remote end closed connection without response")
            received = True
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as exc:
                raise http.client.HTTPException(f"unreadable answer: {exc}") from None
        if not answer.keep_alive:
            self.close()
        return parser.get_status_code(), b"".join(answer.body)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _Answer:
    """What httptools' parser hands over of one answer."""

    parser: Any

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = self.keep_alive = False

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # known here, no longer once the answer is read

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class InterfaceError(RuntimeError):
    """The platform answered infcode -1."""

    def __init__(self, infno: str, err_msg: str, answer: dict[str, Any]) -> None:
        super().__init__(f"{infno}: {err_msg}")
        self.infno = infno
        self.err_msg = err_msg
        self.answer = answer


EC_QUERY = "/localcfc/api/hsecfc/localQrCodeQuery"


@dataclass
class HisClient:
    base_url: str
    fixmedins_code: str
    fixmedins_name: str = "HIS"
    mdtrtarea_admvs: str = "440100"
    opter: str = "001"
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    sign_no: str = ""
    signer: Signer | None = None
    """Signs each request for the gateway, where the server checks signatures."""

    def next_msgid(self) -> str:
        """fixmedins_code(12) + yyyyMMddHHmmss(14) + serial(4), as HIS vendors build it.

        The serial runs on across all clients of this process, so their msgids differ within a second.
        """
        return f"{self.fixmedins_code}{datetime.now():%Y%m%d%H%M%S}{next(_SERIAL) % 10000:04d}"

    def envelope(self, infno: str, input: dict[str, Any], msgid: str | None = None,
                 insuplc_admdvs: str = "") -> dict[str, Any]:  # fmt: skip
        return {
            "infno": infno,
            "msgid": msgid or self.next_msgid(),
            "mdtrtarea_admvs": self.mdtrtarea_admvs,
            "insuplc_admdvs": insuplc_admdvs,
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": self.opter,
            "opter_name": "收费员",
            "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": self.fixmedins_code,
            "fixmedins_name": self.fixmedins_name,
            "sign_no": self.sign_no,
            "input": input,
        }

    def post(self, body: dict[str, Any] | bytes, path: str = "/fsi/api/callService") -> dict[str, Any]:
        """Send an envelope (or raw bytes) and return the whole answer, numbers as Decimal."""
        content = body if isinstance(body, bytes) else simplejson.dumps(body, use_decimal=True).encode()
        headers = {"Content-Type": "application/json", **(self.signer.headers(content) if self.signer else {})}
        r = self.client.post(self.base_url + path, content=content, headers=headers)
        r.raise_for_status()
        answer: dict[str, Any] = json.loads(r.content, parse_float=Decimal)
        return answer

    def call(self, infno: str, input: dict[str, Any], **kw: Any) -> Any:
        """Run a transaction; its output, or InterfaceError with the platform's err_msg. Signs in
        (9001) first if it has not yet, as a HIS does at the start of its day."""
        if not self.sign_no and infno != "9001":
            self.sign_in()
        answer = self.post(self.envelope(infno, input, **kw))
        if answer["infcode"] != 0:
            raise InterfaceError(infno, answer["err_msg"], answer)
        return answer["output"]

    def read_code(self, ec_qr_code: str, business_type: str) -> dict[str, Any]:
        """ec.query: scan a voucher code at this institution's counter; the voucher centre's whole answer
        ({code, type, message, data}: code 0 with data.ecToken, or a refusal)."""
        data = {"orgId": self.fixmedins_code, "businessType": business_type, "ecQrCode": ec_qr_code,
                "operatorId": self.opter, "operatorName": "收费员", "officeId": "A03", "officeName": "内科",
                "deviceType": "1"}  # fmt: skip
        return self.post({"transType": "ec.query", "orgId": self.fixmedins_code, "data": data}, EC_QUERY)

    def sign_in(self) -> str:
        out = self.call("9001", {"signIn": {"opter_no": self.opter, "mac": "00-00-00-00-00-00", "ip": "127.0.0.1"}})
        self.sign_no = out["signinoutb"]["sign_no"]
        return self.sign_no

    def close(self) -> None:
        self.client.close()
