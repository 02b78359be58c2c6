"""Signed calls between nodes and the hub: fresh, once, from a known node, unchanged."""

from __future__ import annotations

import pytest

from yibao.federation.signing import NONCE, SIGNATURE, TIMESTAMP, SignatureError, Verifier, node_secret, sign

HUB_KEY = bytes(range(32))
NOW = 1_800_000_000.0


def verifier(known: str = "wj") -> Verifier:
    return Verifier(lambda node: node_secret(HUB_KEY, node) if node == known else None, clock=lambda: NOW)


def test_a_signed_call_passes_once() -> None:
    body = b'{"msgid":"m1"}'
    headers = sign(node_secret(HUB_KEY, "wj"), "wj", body, now=NOW)
    v = verifier()
    assert v.verify(headers, body) == "wj"
    with pytest.raises(SignatureError, match="x-yb-nonce: 已使用过"):
        v.verify(headers, body)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, b: (h, b + b" "), "x-yb-signature: 签名不符"),
        (lambda h, b: ({**h, SIGNATURE: "0" * 64}, b), "x-yb-signature: 签名不符"),
        (lambda h, b: ({**h, TIMESTAMP: str(int(NOW) - 301)}, b), "x-yb-timestamp: 与本机时间相差超过 300 秒"),
        (lambda h, b: ({**h, TIMESTAMP: "soon"}, b), "x-yb-timestamp: 应为 Unix 秒"),
        (lambda h, b: ({**h, NONCE: ""}, b), "x-yb-nonce: 不能为空"),
        (lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE}, b), "x-yb-signature: 不能为空"),
    ],
)
def test_a_changed_or_stale_call_is_refused(change: object, message: str) -> None:
    body = b'{"msgid":"m1"}'
    headers, sent = change(sign(node_secret(HUB_KEY, "wj"), "wj", body, now=NOW), body)  # type: ignore[operator]
    with pytest.raises(SignatureError) as refused:
        verifier().verify(headers, sent)
    assert str(refused.value) == message


def test_an_unknown_node_and_another_nodes_secret_are_refused() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="x-yb-node: gz 不是已登记的节点"):
        verifier().verify(sign(node_secret(HUB_KEY, "gz"), "gz", body, now=NOW), body)
    forged = sign(node_secret(HUB_KEY, "gz"), "wj", body, now=NOW)  # gz's secret, claiming to be wj
    with pytest.raises(SignatureError, match="签名不符"):
        verifier().verify(forged, body)
    assert node_secret(HUB_KEY, "wj") != node_secret(HUB_KEY, "gz") != node_secret(bytes(32), "gz")
