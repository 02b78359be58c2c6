"""The gateway's signature check: both styles, stale timestamps, replayed nonces, rotated keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from yibao.api.fsi.gateway import (
    RIO,
    SM3,
    Gateway,
    GatewayError,
    caller_secret,
    read_keys,
    rio_headers,
    sm3_headers,
)
from yibao.crypto.sm import hmac_sm3

KEY = bytes(range(32))
OLD_KEY = bytes(range(100, 132))
NOW = 1_800_000_000.0
BODY = b'{"infno": "2207", "fixmedins_code": "H44010600001"}'


def gateway(*keys: bytes) -> Gateway:
    return Gateway(list(keys or (KEY,)), clock=lambda: NOW)


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def test_hmac_sm3_is_rfc_2104_over_gb_t_32905_sm3() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 A.1
    key, message = b"H44010600001-secret", b"1800000000\n{}"
    block = key.ljust(64, b"\0")
    inner = sm3(bytes(b ^ 0x36 for b in block) + message)
    assert hmac_sm3(key, message) == sm3(bytes(b ^ 0x5C for b in block) + inner).hex()


def test_a_rio_signature_lets_the_paasid_in_once() -> None:
    g = gateway()
    token = caller_secret(KEY, RIO, "H44010600001")
    headers = rio_headers("H44010600001", token, now=NOW, nonce="n1")
    expected = hashlib.sha256(f"{int(NOW)}{token}n1{int(NOW)}".encode()).hexdigest()
    assert headers["x-tif-signature"] == expected  # the formula HIS vendors implement
    caller = g.verify(headers, BODY)
    assert (caller.style, caller.key_id, caller.fixmedins_code) == (RIO, "H44010600001", "H44010600001")
    with pytest.raises(GatewayError, match="x-tif-nonce: 已使用过"):
        g.verify(headers, BODY)
    upper = rio_headers("H44010600001", token, now=NOW, nonce="n2")
    upper["x-tif-signature"] = upper["x-tif-signature"].upper()  # some gateways send it upper-case
    assert g.verify(upper, BODY).key_id == "H44010600001"


def test_a_regional_front_end_paasid_speaks_for_no_single_institution() -> None:
    g = gateway()
    headers = rio_headers("mbs_fsi_auth", caller_secret(KEY, RIO, "mbs_fsi_auth"), now=NOW)
    assert g.verify(headers, BODY).fixmedins_code is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x-tif-signature": "0" * 64}, "x-tif-signature: 签名不符"),
        ({"x-tif-paasid": "H44010600002"}, "x-tif-signature: 签名不符"),
        ({"x-tif-timestamp": str(int(NOW) - 301)}, "x-tif-timestamp: 时间戳与服务器时间相差超过 300 秒"),
        ({"x-tif-timestamp": "yesterday"}, "x-tif-timestamp: 时间戳应为 Unix 秒"),
        ({"x-tif-nonce": ""}, "x-tif-nonce: 不能为空"),
    ],
)
def test_a_wrong_rio_header_is_refused_by_name(change: dict[str, str], message: str) -> None:
    headers = rio_headers("H44010600001", caller_secret(KEY, RIO, "H44010600001"), now=NOW) | change
    with pytest.raises(GatewayError) as caught:
        gateway().verify(headers, BODY)
    assert str(caught.value) == message


def test_an_sm3_signature_covers_the_body() -> None:
    g = gateway()
    secret = caller_secret(KEY, SM3, "H44010600001")
    headers = sm3_headers("H44010600001", secret, BODY, now=NOW)
    timestamp, signature = headers["x-ca-signature"].split(":")
    assert timestamp == str(int(NOW))
    assert signature == hmac_sm3(secret.encode(), f"{timestamp}\n".encode() + BODY)
    assert g.verify(headers, BODY).fixmedins_code == "H44010600001"
    with pytest.raises(GatewayError, match="x-ca-signature: 签名不符"):
        g.verify(headers, BODY.replace(b"2207", b"2208"))
    with pytest.raises(GatewayError, match="x-ca-signature: 签名不符"):
        g.verify(headers | {"x-ca-key": "H44010600002"}, BODY)
    stale = sm3_headers("H44010600001", secret, BODY, now=NOW + 400)
    with pytest.raises(GatewayError, match="相差超过 300 秒"):
        g.verify(stale, BODY)


def test_no_signature_at_all_is_refused() -> None:
    with pytest.raises(GatewayError, match="缺少网关签名"):
        gateway().verify({"content-type": "application/json"}, BODY)


def test_rotation_accepts_the_old_key_until_it_is_removed(tmp_path: Path) -> None:
    old = sm3_headers("H44010600001", caller_secret(OLD_KEY, SM3, "H44010600001"), BODY, now=NOW)
    assert gateway(KEY, OLD_KEY).verify(old, BODY).key_id == "H44010600001"
    with pytest.raises(GatewayError, match="签名不符"):
        gateway(KEY).verify(old, BODY)
    assert gateway(KEY, OLD_KEY).signer(SM3, "H44010600001").secret == caller_secret(KEY, SM3, "H44010600001")

    keys = tmp_path / "gateway.keys"
    keys.write_text(f"# newest first\n{KEY.hex()}\n\n{OLD_KEY.hex()}  # retired on 2026-12-01\n")
    assert read_keys(keys) == [KEY, OLD_KEY]
    keys.write_text("not-hex\n")
    with pytest.raises(ValueError, match=r"gateway\.keys:1: 不是十六进制密钥"):
        read_keys(keys)
    keys.write_text("00ff\n")
    with pytest.raises(ValueError, match="至少 16 字节"):
        read_keys(keys)
