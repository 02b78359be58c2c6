"""The voucher QR code (yibao.voucher): format, issue and verify, keys sealed at rest, rotation, the QR itself."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest
import zxingcpp

from yibao.crypto.reference import GmalgSm2
from yibao.crypto.tongsuo import TongsuoSm2
from yibao.voucher import keys as vk
from yibao.voucher.keys import AuthorityKeys, VoucherKeyError, key_place, load_authority, rotate
from yibao.voucher.qr import qr_code, qr_svg
from yibao.voucher.token import (
    CONTEXT,
    BadSignature,
    Claims,
    Expired,
    Malformed,
    UnknownKey,
    decode,
    encode,
    issue,
    parse,
    payload,
    verify,
)

SM2 = TongsuoSm2()
INDEX = "E44010600000000000000000000001"
NOW = 1_750_000_000.5
AUTHORITY = AuthorityKeys.generate(SM2)


def test_the_payload_byte_by_byte() -> None:
    claims = Claims("E1", key_id=0x0102, expires=0x0A0B0C0D, nonce=bytes(range(8)))
    fields = ["01", "0102", "0a0b0c0d", "0001020304050607", "02", "4531"]  # version, key, expiry, nonce, L, index
    assert payload(claims).hex() == "".join(fields)
    token = issue("E1", 0x0A0B0C0D - 60, AUTHORITY.signing, SM2, nonce=bytes(range(8)))
    data = decode(token)
    assert len(data) == 16 + 2 + 64 and data[:18] == payload(Claims("E1", 1, 0x0A0B0C0D, bytes(range(8))))
    assert SM2.verify(AUTHORITY.public_keys[1], CONTEXT + data[:18], data[18:])
    assert re.fullmatch(r"[A-Z2-7]+", token) and decode(token.lower()) == data


def test_a_code_verifies_until_it_expires() -> None:
    token = issue(INDEX, NOW, AUTHORITY.signing, SM2)
    claims = verify(token, NOW, AUTHORITY.public_keys, SM2)
    assert (claims.ec_index_no, claims.key_id, claims.expires) == (INDEX, 1, int(NOW) + 60)
    assert verify(token, int(NOW) + 59.99, AUTHORITY.public_keys, SM2) == claims
    assert verify(token, NOW, AUTHORITY.public_keys, GmalgSm2()) == claims  # the reference agrees
    with pytest.raises(Expired):
        verify(token, int(NOW) + 60, AUTHORITY.public_keys, SM2)
    assert len(token) < 200
    assert issue(INDEX, NOW, AUTHORITY.signing, SM2) != token  # a new nonce every time


def test_a_code_signed_by_the_reference_verifies_on_the_hot_path() -> None:
    token = issue(INDEX, NOW, AUTHORITY.signing, GmalgSm2(), ttl=30)
    assert verify(token, NOW, AUTHORITY.public_keys, SM2).expires == int(NOW) + 30


def test_any_changed_bit_is_refused() -> None:
    data = decode(issue(INDEX, NOW, AUTHORITY.signing, SM2))
    for bit in range(len(data) * 8):
        changed = bytearray(data)
        changed[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((Malformed, UnknownKey, BadSignature)):
            verify(encode(bytes(changed)), NOW, AUTHORITY.public_keys, SM2)


def test_an_expired_answer_only_for_an_authentic_code() -> None:
    data = bytearray(decode(issue(INDEX, NOW, AUTHORITY.signing, SM2)))
    data[-1] ^= 1
    with pytest.raises(BadSignature):
        verify(encode(bytes(data)), NOW + 3600, AUTHORITY.public_keys, SM2)


def test_a_code_of_another_authority_or_an_unknown_key_is_refused() -> None:
    other = AuthorityKeys.generate(SM2)
    with pytest.raises(BadSignature):
        verify(issue(INDEX, NOW, other.signing, SM2), NOW, AUTHORITY.public_keys, SM2)
    with pytest.raises(UnknownKey):
        verify(issue(INDEX, NOW, other.with_new_key(SM2).signing, SM2), NOW, AUTHORITY.public_keys, SM2)


@pytest.mark.parametrize("text", ["", "!!!", "A", "AEAQ", encode(b"\x02" + bytes(90)), encode(bytes(81))])
def test_malformed_codes(text: str) -> None:
    with pytest.raises(Malformed):
        verify(text, NOW, AUTHORITY.public_keys, SM2)


def test_parse_refuses_wrong_lengths() -> None:
    data = decode(issue(INDEX, NOW, AUTHORITY.signing, SM2))
    for bad in (data[:-1], data + b"\0", data[:15] + b"\0" + data[16:], data[:15] + b"\x41" + data[16:]):
        with pytest.raises(Malformed):
            parse(bad)


@pytest.mark.parametrize("index", ["", "x" * 65, "身份证", "has space"])
def test_the_voucher_index_is_short_printable_ascii(index: str) -> None:
    with pytest.raises(ValueError):
        issue(index, NOW, AUTHORITY.signing, SM2)


def test_rotation_keeps_old_codes_until_they_expire() -> None:
    old = issue(INDEX, NOW, AUTHORITY.signing, SM2)
    rotated = AUTHORITY.with_new_key(SM2)
    new = issue(INDEX, NOW, rotated.signing, SM2)
    assert verify(old, NOW, rotated.public_keys, SM2).key_id == 1
    assert verify(new, NOW, rotated.public_keys, SM2).key_id == 2
    retired = rotated.without(1)
    with pytest.raises(UnknownKey):
        verify(old, NOW, retired.public_keys, SM2)
    with pytest.raises(VoucherKeyError):
        rotated.without(2)


# ---------------------------------------------------------------- the key file

SEAL = bytes.fromhex("00112233445566778899aabbccddeeff")


def test_the_key_file_holds_no_private_key_in_clear() -> None:
    ring = AUTHORITY.with_new_key(SM2)
    text = ring.text(SEAL)
    for pair in ring.keys.values():
        assert pair.private.hex() not in text.lower()
        assert base64.b64encode(pair.private).decode() not in text
    again = AuthorityKeys.parse(text, SEAL, SM2)
    assert again == ring and again.newest == 2
    assert [line.split()[0] for line in text.splitlines() if line.startswith("k")] == ["k2", "k1"]
    with pytest.raises(VoucherKeyError, match="does not open"):
        AuthorityKeys.parse(text, bytes(16), SM2)


def test_a_sealed_key_moved_to_another_line_does_not_open() -> None:
    lines = AUTHORITY.with_new_key(SM2).text(SEAL).splitlines()
    k2, k1 = (line.split() for line in lines if line.startswith("k"))
    swapped = f"k2 {k2[1]} {k1[2]}\nk1 {k1[1]} {k2[2]}\n"
    with pytest.raises(VoucherKeyError, match="does not open"):
        AuthorityKeys.parse(swapped, SEAL, SM2)
    with pytest.raises(VoucherKeyError, match="expected"):
        AuthorityKeys.parse("k1 04abc\n", SEAL, SM2)
    with pytest.raises(VoucherKeyError, match="no key"):
        AuthorityKeys.parse("# nothing\n", SEAL, SM2)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (vk.ENV, vk.SEAL_ENV, vk.SEAL_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def test_a_developer_gets_keys_made_on_first_use(clean_env: Path) -> None:
    ring = load_authority(SM2)
    place = key_place()
    assert place.path == clean_env / "data" / "yibao" / "voucher-keys" and place.may_make
    assert place.seal_path is not None
    for path in (place.path, place.seal_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_authority(SM2) == ring
    rotated = rotate(SM2)
    assert rotated.newest == 2 and load_authority(SM2) == rotated


def test_production_keys_are_never_made(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vk.ENV, str(clean_env / "authority-keys"))
    with pytest.raises(VoucherKeyError, match="sealing key"):
        load_authority(SM2)
    monkeypatch.setenv(vk.SEAL_ENV, SEAL.hex())
    with pytest.raises(VoucherKeyError, match="no voucher key file"):
        load_authority(SM2)
    made = rotate(SM2)  # `yibao voucher new-key`: the one way a production file is made
    assert load_authority(SM2) == made
    monkeypatch.setenv(vk.SEAL_ENV, "00" * 16)
    with pytest.raises(VoucherKeyError, match="does not open"):
        load_authority(SM2)
    monkeypatch.setenv(vk.SEAL_ENV, "not hex")
    with pytest.raises(VoucherKeyError, match="32 hex digits"):
        load_authority(SM2)


def test_the_sealing_key_from_a_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seal_file = clean_env / "seal"
    seal_file.write_text("# the SM4 key\n" + SEAL.hex() + "\n")
    monkeypatch.setenv(vk.ENV, str(clean_env / "authority-keys"))
    monkeypatch.setenv(vk.SEAL_FILE_ENV, str(seal_file))
    (clean_env / "authority-keys").write_text(AUTHORITY.text(SEAL))
    assert load_authority(SM2) == AUTHORITY


# ---------------------------------------------------------------- the QR code


def _raster(svg: str, scale: int = 4) -> tuple[bytes, int]:
    """A grey image of segno's SVG: its one dark path (``M``/``m`` moves, ``h`` runs of dark modules of
    one row, drawn with a stroke along y + 0.5), scaled by the ``scale(n)`` transform; white elsewhere."""
    size = int(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    assert f'transform="scale({scale})"' in svg
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]
    pixels = bytearray(b"\xff" * size * size)
    x = y = 0.0
    for op, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            run = float(a) if op == "h" else float(a) - x
            row = int(y)
            for col in range(int(x), int(x + run)):
                for dy in range(scale):
                    start = (row * scale + dy) * size + col * scale
                    pixels[start : start + scale] = b"\0" * scale
            x += run
    return bytes(pixels), size


def test_the_svg_decodes_back_to_the_code() -> None:
    token = issue(INDEX, NOW, AUTHORITY.signing, SM2)
    svg = qr_svg(token)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    pixels, size = _raster(svg)
    found = zxingcpp.read_barcode(memoryview(pixels).cast("B", (size, size)))
    assert found is not None and found.format == zxingcpp.BarcodeFormat.QRCode and found.text == token
    assert verify(found.text, NOW, AUTHORITY.public_keys, SM2).ec_index_no == INDEX
    assert qr_code(token).mode == "alphanumeric" and qr_code(token).error == "M"
