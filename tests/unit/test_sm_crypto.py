"""SM2/SM3/SM4 behind yibao.crypto: the standards' worked examples, and the two SM2 backends agreeing."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmalg import SM3 as GmalgSM3
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.crypto.reference import GmalgSm2
from yibao.crypto.sm import Unsealed, sm3, sm4_gcm_open, sm4_gcm_seal
from yibao.crypto.sm2 import DEFAULT_USER_ID, BadKey, N, Sm2Backend, der_of, raw_of, split
from yibao.crypto.tongsuo import TongsuoSm2

# The worked example of SM2 signing on the recommended curve: GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A
# (ID 1234567812345678, message "message digest", a fixed k). The standard itself is not on this machine;
# these values are as several independent implementations' test suites reproduce it (docs/voucher.md).
D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
PUBLIC = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
Z_A = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
MESSAGE = b"message digest"

# The SM2 parameters of GB/T 32918.5 (a, b, G), hashed into Z_A.
A_B_G = bytes.fromhex(
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)

TONGSUO = TongsuoSm2()
GMALG = GmalgSm2()
BACKENDS: list[Sm2Backend] = [TONGSUO, GMALG]


def test_sm3_examples_of_the_standard() -> None:
    # GB/T 32905-2016 Annex A: "abc" and "abcd" × 16
    abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    abcd16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert sm3(b"abc").hex() == abc
    assert sm3(b"abcd" * 16).hex() == abcd16
    reference = GmalgSM3()
    reference.update(b"abc")
    assert reference.value().hex() == abc  # the pure-Python reference agrees
    if "sm3" in hashlib.algorithms_available:
        assert hashlib.new("sm3", b"abc").hexdigest() == abc


def test_sm4_example_of_the_standard() -> None:
    # GB/T 32907-2016 Annex A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_seals_and_refuses_changes() -> None:
    key = bytes(range(16))
    sealed = sm4_gcm_seal(key, b"secret", b"context")
    assert sm4_gcm_open(key, sealed, b"context") == b"secret"
    with pytest.raises(Unsealed):
        sm4_gcm_open(key, sealed, b"other context")
    with pytest.raises(Unsealed):
        sm4_gcm_open(bytes(16), sealed, b"context")
    for i in range(len(sealed)):
        changed = bytearray(sealed)
        changed[i] ^= 1
        with pytest.raises(Unsealed):
            sm4_gcm_open(key, bytes(changed), b"context")


def test_the_standard_signature_example_on_gmalg_with_its_fixed_k() -> None:
    # Z_A and e as the standard computes them, with our SM3
    z = sm3(len(DEFAULT_USER_ID * 8).to_bytes(2, "big") + DEFAULT_USER_ID + A_B_G + PUBLIC[1:])
    assert z == Z_A
    assert sm3(Z_A + MESSAGE) == E
    # the key pair and the signature with k injected: r and s exactly
    fixed = GmalgSm2(nonce=lambda bits: K)
    assert fixed.public_key(D) == PUBLIC
    assert fixed.sign(D, MESSAGE) == R + S
    # and both backends verify the published signature
    assert GMALG.verify(PUBLIC, MESSAGE, R + S)
    assert TONGSUO.verify(PUBLIC, MESSAGE, R + S)
    assert TONGSUO.public_key(D) == PUBLIC


@settings(max_examples=8, deadline=None)
@given(message=st.binary(max_size=300))
def test_each_backend_verifies_the_others_signatures(message: bytes) -> None:
    keys = TONGSUO.generate()
    by_tongsuo = TONGSUO.sign(keys.private, message)
    by_gmalg = GMALG.sign(keys.private, message)
    assert GMALG.verify(keys.public, message, by_tongsuo)
    assert TONGSUO.verify(keys.public, message, by_gmalg)
    assert TONGSUO.verify(keys.public, message, by_tongsuo)


def test_keys_made_by_either_backend_load_in_the_other() -> None:
    for maker in BACKENDS:
        keys = maker.generate()
        assert len(keys.private) == 32 and len(keys.public) == 65 and keys.public[0] == 4
        for other in BACKENDS:
            assert other.public_key(keys.private) == keys.public


KEYS = TONGSUO.generate()
SIGNED = {b.name: b.sign(KEYS.private, MESSAGE) for b in BACKENDS}


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("signer", ["tongsuopy", "gmalg"])
@pytest.mark.parametrize("bit", [0, 7, 77, 255, 256, 400, 511])
def test_a_flipped_bit_is_refused_by_both(signer: str, bit: int) -> None:
    signature = SIGNED[signer]
    for backend in BACKENDS:
        assert backend.verify(KEYS.public, MESSAGE, signature)
        assert not backend.verify(KEYS.public, MESSAGE, _flip(signature, bit))
        assert not backend.verify(KEYS.public, _flip(MESSAGE, bit % 112), signature)
        assert not backend.verify(_flip(KEYS.public, 8 + bit), MESSAGE, signature)  # x or y, not the 04


def test_malformed_signatures_and_keys_are_refused_not_raised() -> None:
    good = SIGNED["tongsuopy"]
    zero_r = bytes(32) + good[32:]
    big_s = good[:32] + N.to_bytes(32, "big")
    for backend in BACKENDS:
        for bad in (b"", good[:63], good + b"\0", zero_r, big_s):
            assert not backend.verify(KEYS.public, MESSAGE, bad)
        for key in (b"", KEYS.public[:33], b"\x05" + KEYS.public[1:], b"\x04" + bytes(64)):
            assert not backend.verify(key, MESSAGE, good)
    for backend in BACKENDS:
        for private in (b"", bytes(32), (N - 1).to_bytes(32, "big"), b"\xff" * 32):
            with pytest.raises(BadKey):
                backend.sign(private, MESSAGE)


def test_the_sm2_id_is_part_of_the_signature() -> None:
    other_id = b"ALICE123@YAHOO.COM"
    signature = GMALG.sign(KEYS.private, MESSAGE, other_id)
    assert GMALG.verify(KEYS.public, MESSAGE, signature, other_id)
    assert not GMALG.verify(KEYS.public, MESSAGE, signature)
    assert not TONGSUO.verify(KEYS.public, MESSAGE, signature)
    with pytest.raises(ValueError, match="default SM2 ID"):
        TONGSUO.sign(KEYS.private, MESSAGE, other_id)


def test_raw_and_der_signatures_convert_both_ways() -> None:
    for signature in SIGNED.values():
        der = der_of(signature)
        assert der[0] == 0x30 and raw_of(der) == signature
        assert split(signature) is not None
