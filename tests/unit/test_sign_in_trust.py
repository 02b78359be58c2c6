"""The sign-ins a worker trusts without asking the database: only for a while, and forgotten after."""

from __future__ import annotations

from datetime import datetime, timedelta

from yibao.api.fsi.dispatch import TRUST_SIGN_IN, SignInTrust

T0 = datetime(2026, 11, 23, 8, 0)


def test_a_sign_in_is_trusted_for_its_institution_until_its_time() -> None:
    trust = SignInTrust()
    trust.trust("S1", "H44010600001", T0 + TRUST_SIGN_IN, T0)
    assert trust.trusted("S1", "H44010600001", T0 + timedelta(seconds=29))
    assert not trust.trusted("S1", "H44010600001", T0 + TRUST_SIGN_IN)
    assert not trust.trusted("S1", "H44010600004", T0)  # another institution's message with this sign_no
    trust.forget("S1")
    assert not trust.trusted("S1", "H44010600001", T0)


def test_a_day_of_sign_ins_leaves_only_the_recent_ones() -> None:
    """Every terminal of a city signs in once: the table holds those of the last half minute or so,
    not the day's (it was emptied only at 10,000 and grew all the while)."""
    trust = SignInTrust(sweep_at=64)
    for i in range(20_000):  # one sign-in every second for five and a half hours
        now = T0 + timedelta(seconds=i)
        trust.trust(f"S{i}", "H44010600001", now + TRUST_SIGN_IN, now)
        assert len(trust) <= 64
    assert trust.trusted("S19999", "H44010600001", now)
    assert trust.trusted("S19971", "H44010600001", now)  # 28 seconds ago: still trusted


def test_live_sign_ins_are_never_dropped_to_make_room() -> None:
    trust = SignInTrust(sweep_at=64)
    for i in range(1_000):  # a thousand terminals within the same second
        trust.trust(f"S{i}", "H44010600001", T0 + TRUST_SIGN_IN, T0)
    assert len(trust) == 1_000
    assert all(trust.trusted(f"S{i}", "H44010600001", T0) for i in range(1_000))
