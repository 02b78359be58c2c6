"""schemathesis against the OpenAPI document of a real `yibao serve`: no 500, no stack trace.

The operations of /openapi.json (the single entry, each service path, /healthz) get generated
requests, valid (positive) and invalid (negative) against the envelope's schema. Every answer of the
national interface must be an envelope with infcode 0 or -1 (or, for 9102, a file).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.databases import fresh_database, load_demo
from tests.servers import running_server


def test_generated_requests_never_get_a_server_error(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        load_demo(url)
        with running_server(url, tmp_path / "server.log") as base:
            schema = schemathesis.openapi.from_dict(httpx.get(base + "/openapi.json").json())
            seen: Counter[str] = Counter()

            for mode, examples in ((GenerationMode.POSITIVE, 150), (GenerationMode.NEGATIVE, 150)):

                @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))  # fmt: skip
                @given(case=schema.as_strategy(mode))
                def run(case: Any) -> None:
                    response = case.call(base_url=base, timeout=30)
                    case.validate_response(response, checks=[not_a_server_error])
                    body = response.content
                    assert b"Traceback" not in body and b'File "' not in body, body[:2000]
                    seen[f"{case.method} {response.status_code}"] += 1
                    if case.path.startswith("/fsi/api/") and "json" in str(response.headers.get("content-type")):
                        answer = json.loads(body)
                        assert answer["infcode"] in (0, -1) and isinstance(answer["output"], dict), answer
                        seen[f"infcode {answer['infcode']}"] += 1

                run()
        log = (tmp_path / "server.log").read_text()
    print(dict(seen))
    assert seen["infcode -1"] > 100  # the envelopes were really answered, not bounced somewhere before
    assert "Traceback" not in log, log[-3000:]
