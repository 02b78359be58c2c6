"""Personal data at rest (yibao.store.personal): SM4-GCM sealing, rotation, the keyed lookup hash, key files."""

from __future__ import annotations

import base64
import stat
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from yibao.app.records import PersonRecord
from yibao.store import personal
from yibao.store.personal import (
    ENV,
    DataKeyError,
    KeyRing,
    PersonalData,
    Tampered,
    forget,
    key_file_for,
    make_key_file,
    personal_for,
    sealed_batches,
    write_key_file,
)

CERTNO = "44010619900101123X"
CONTEXT = "certno/4401000000000001"


def sealer(ring: KeyRing | None = None) -> PersonalData:
    return PersonalData.of(ring or KeyRing.generate())


def test_a_value_round_trips_and_is_not_in_the_sealed_text() -> None:
    p = sealer()
    sealed = p.seal(CERTNO, CONTEXT)
    assert sealed.startswith("v1:")
    assert CERTNO not in sealed and CERTNO.encode() not in base64.b64decode(sealed[3:])
    assert p.open(sealed, CONTEXT) == CERTNO
    assert p.open(p.seal("张三丰", "psn_name/1"), "psn_name/1") == "张三丰"
    assert p.open(p.seal("", "x"), "x") == ""


def test_each_sealing_uses_a_new_nonce() -> None:
    p = sealer()
    assert len({p.seal(CERTNO, CONTEXT) for _ in range(50)}) == 50


def test_a_changed_byte_anywhere_fails_to_open() -> None:
    p = sealer()
    sealed = p.seal(CERTNO, CONTEXT)
    assert p.open(sealed, CONTEXT) == CERTNO  # kept in the clear by this process: the changed ones are not
    blob = bytearray(base64.b64decode(sealed[3:]))
    for i in range(len(blob)):
        changed = bytearray(blob)
        changed[i] ^= 0x01
        with pytest.raises(Tampered):
            p.open("v1:" + base64.b64encode(bytes(changed)).decode(), CONTEXT)
    with pytest.raises(Tampered):
        p.open(sealed[:-8], CONTEXT)  # truncated
    with pytest.raises(Tampered):
        p.open("44010619900101123X", CONTEXT)  # a clear value is not a sealed one


def test_a_value_moved_to_another_row_or_column_fails_to_open() -> None:
    p = sealer()
    sealed = p.seal(CERTNO, CONTEXT)
    assert p.open(sealed, CONTEXT) == CERTNO
    with pytest.raises(Tampered):
        p.open(sealed, "certno/4401000000000002")
    with pytest.raises(Tampered):
        p.open(sealed, "card_no/4401000000000001")


def test_a_process_keeps_a_bounded_number_of_clear_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(personal, "OPENED_KEPT", 8)
    p = sealer()
    sealed = [p.seal(f"4401061990010{i:04d}X", f"certno/{i}") for i in range(20)]
    for i, s in enumerate(sealed):
        assert p.open(s, f"certno/{i}") == f"4401061990010{i:04d}X"
        assert len(p._clear) <= 8
    assert p.open(sealed[0], "certno/0") == "44010619900100000X"  # emptied and filled again: still right


def test_a_short_value_sealed_here_opens_without_decrypting_and_an_answer_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = sealer()
    sealed = p.seal(CERTNO, CONTEXT)
    answer = p.seal("{" + '"x": 1, ' * 20 + "}", "message_log/H1/m1")
    monkeypatch.setattr(personal, "sm4_gcm_open", lambda *_: pytest.fail("decrypted again"))
    assert p.open(sealed, CONTEXT) == CERTNO
    assert (answer, "message_log/H1/m1") not in p._clear  # answers are opened once, on a replay
    monkeypatch.undo()
    with pytest.raises(Tampered):  # what it keeps is the exact text it made: any other still fails
        p.open(sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"), CONTEXT)


def test_another_key_does_not_open_it() -> None:
    sealed = sealer().seal(CERTNO, CONTEXT)
    with pytest.raises(Tampered):
        sealer().open(sealed, CONTEXT)


def test_rotation_seals_with_the_newest_key_and_old_values_still_open() -> None:
    old_ring = KeyRing.generate()
    old = sealer(old_ring).seal(CERTNO, CONTEXT)
    new_ring = old_ring.with_new_key()
    p = sealer(new_ring)
    assert new_ring.newest == 2 and set(new_ring.keys) == {1, 2}
    resealed = p.seal(p.open(old, CONTEXT), CONTEXT)
    assert (p.key_of(old), p.key_of(resealed)) == (1, 2)
    assert p.is_current(resealed) and not p.is_current(old)
    assert p.open(resealed, CONTEXT) == CERTNO
    # the lookup key does not change with the encryption key: hashes stay valid
    assert p.lookup(CERTNO) == sealer(old_ring).lookup(CERTNO)
    # once the old key leaves the file, its values no longer open
    retired = KeyRing({2: new_ring.keys[2]}, 2, new_ring.lookup)
    with pytest.raises(DataKeyError, match="key v1"):
        sealer(retired).open(old, CONTEXT)


def test_the_lookup_hash_is_stable_keyed_and_hex_sm3() -> None:
    ring = KeyRing.generate()
    a, b = sealer(ring), sealer(ring)
    assert a.lookup(CERTNO) == b.lookup(CERTNO) == a.lookup(CERTNO)
    assert len(a.lookup(CERTNO)) == 64 and int(a.lookup(CERTNO), 16) >= 0
    assert a.lookup(CERTNO) != a.lookup(CERTNO[:-1] + "1")
    assert sealer().lookup(CERTNO) != a.lookup(CERTNO)  # another lookup key, another hash
    h = crypto_hmac.HMAC(ring.lookup, hashes.SM3())
    h.update(CERTNO.encode())
    assert a.lookup(CERTNO) == h.finalize().hex()


def test_a_person_round_trips_through_its_stored_columns() -> None:
    p = sealer()
    person = PersonRecord("4401000000000001", "01", CERTNO, "李四", "1", date(1990, 1, 1), "01", "A12345678", "SN1")
    values = p.person_values(person)
    assert {"certno", "psn_name", "card_no"}.isdisjoint(values)
    assert CERTNO not in str(values) and "李四" not in str(values) and "A12345678" not in str(values)
    assert values["certno_hash"] == p.lookup(CERTNO) and values["card_no_hash"] == p.lookup("A12345678")
    assert p.person_of(values) == person
    no_card = PersonRecord("4401000000000002", "01", CERTNO, "王五", "2", date(1990, 1, 1), "01")
    values = p.person_values(no_card)
    assert values["card_no_enc"] is None and values["card_no_hash"] is None
    assert p.person_of(values) == no_card
    row = p.person_row(("4401000000000001", "01", CERTNO, "李四", "1", "1990-01-01", "01", None, None))
    assert row[3] == p.lookup(CERTNO) and row[8] is None and p.open(row[2], f"certno/{row[0]}") == CERTNO


def test_the_key_file_format(tmp_path: Path) -> None:
    ring = KeyRing.generate().with_new_key().with_new_key()
    text = ring.text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert [line.split()[0] for line in lines] == ["v3", "v2", "v1", "lookup"]
    assert KeyRing.parse(text) == ring
    for bad, message in [
        ("", "no SM4 key"),
        ("v1 " + "00" * 16, "no lookup key"),
        ("lookup " + "00" * 32, "no SM4 key"),
        ("v1 " + "00" * 15 + "\nlookup " + "00" * 32, "32 hex digits"),
        ("v1 " + "00" * 16 + "\nv1 " + "11" * 16 + "\nlookup " + "00" * 32, "twice"),
        ("key1 " + "00" * 16, "expected"),
        ("v1 " + "00" * 16 + "\nlookup " + "00" * 8, "64 hex digits"),
    ]:
        with pytest.raises(DataKeyError, match=message):
            KeyRing.parse(bad)
    path = tmp_path / "keys"
    assert make_key_file(path, ring) and not make_key_file(path, KeyRing.generate())  # never overwritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyRing.parse(path.read_text()) == ring


def test_a_running_process_picks_up_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    ring = KeyRing.generate()
    make_key_file(path, ring)
    reader = PersonalData(path)
    writer_ring = ring.with_new_key()
    write_key_file(path, writer_ring)
    sealed = PersonalData(path).seal(CERTNO, CONTEXT)
    assert sealed.startswith("v2:")
    assert reader.open(sealed, CONTEXT) == CERTNO  # unknown key v2: the file is read again
    assert reader.seal(CERTNO, CONTEXT).startswith("v2:")


def test_where_the_key_file_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = tmp_path / "yibao.db"
    assert key_file_for(f"sqlite:///{db}") == (Path(f"{db}.keys"), True)
    assert key_file_for("postgresql+psycopg://u@h/db") == (tmp_path / "data" / "yibao" / "data-keys", True)
    assert key_file_for("sqlite://")[0] == tmp_path / "data" / "yibao" / "data-keys"
    # made on first use, once
    forget()
    first = personal_for(f"sqlite:///{db}")
    assert Path(f"{db}.keys").exists() and personal_for(f"sqlite:///{db}") is first
    # named by the environment: never made, a missing file is an error
    monkeypatch.setenv(ENV, str(tmp_path / "prod-keys"))
    assert key_file_for(f"sqlite:///{db}") == (tmp_path / "prod-keys", False)
    with pytest.raises(DataKeyError, match="yibao data-key new"):
        personal_for(f"sqlite:///{db}")
    assert not (tmp_path / "prod-keys").exists()
    forget()


@pytest.mark.parametrize("workers", [0, 1])
def test_bulk_sealing_in_worker_processes_gives_rows_that_open(workers: int) -> None:
    p = sealer()
    batches = [[(f"44010000000000{b}{i}", "01", f"4401061990010{b}{i:03d}X", "赵六", "1", "1990-01-01", "01",
                 None if i % 2 else f"A{b}{i:07d}", None) for i in range(20)] for b in range(3)]  # fmt: skip
    out = list(sealed_batches(p, iter(batches), lambda b: b, workers=workers, ahead=2))
    assert [clear for clear, _ in out] == batches
    for clear, stored in out:
        for row, sealed in zip(clear, stored, strict=True):
            assert sealed[3] == p.lookup(row[2]) and sealed[9] == (None if row[7] is None else p.lookup(row[7]))
            opened = p.open_person([sealed[i] for i in (0, 1, 2, 4, 5, 6, 7, 8, 10)])
            assert tuple(opened) == row
