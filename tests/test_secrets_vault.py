"""The vault on a real store (SQLite file; the ``store`` fixture also PostgreSQL): round trip,
tamper detection, wrong key, rotation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secret_tokens import (
    MASSIVE_TEST_API_KEY,
    TEST_MASTER_KEY,
    TEST_MASTER_KEY_2,
    TRADIER_SANDBOX_TEST_TOKEN,
    TRADIER_TEST_TOKEN,
)

from spxcc_core.errors import InputError
from spxcc_core.secrets import (
    DecryptionError,
    MasterKeyring,
    MasterKeySource,
    SecretError,
    SecretNotFoundError,
    Vault,
    parse_master_key,
    resolve_secret,
)
from spxcc_core.secrets.envelope import Sealed, Wrapping, open_value
from spxcc_core.store import Store

K1 = parse_master_key(TEST_MASTER_KEY, source="test")
K2 = parse_master_key(TEST_MASTER_KEY_2, source="test")
K1_ID = "034e783d69751769"
K2_ID = "f3f83144e25b95ab"


def _clock() -> datetime:
    return datetime(2026, 3, 2, 14, 30, 5, 123456, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "spxcc.sqlite3"


@pytest.fixture
def store(store_target: str | Path) -> Iterator[Store]:
    s = Store(store_target)
    yield s
    s.close()


def test_round_trip_and_metadata(store: Store) -> None:
    vault = Vault(store, MasterKeyring(K1), clock=_clock)
    info = vault.put("tradier_token", TRADIER_TEST_TOKEN)
    assert (info.name, info.version, info.master_key_id, info.previous_master_key_id) == (
        "tradier_token", 1, K1_ID, None)
    assert info.created_at == info.updated_at == "2026-03-02T14:30:05.123Z"
    secret = vault.get("tradier_token")
    assert secret.reveal() == TRADIER_TEST_TOKEN
    assert repr(secret) == "Secret(name='tradier_token', source='vault', value='***')"
    second = vault.put("tradier_token", TRADIER_SANDBOX_TEST_TOKEN)
    assert second.version == 2
    assert vault.get("tradier_token").reveal() == TRADIER_SANDBOX_TEST_TOKEN
    assert [i.name for i in vault.list()] == ["tradier_token"]


def test_plaintext_never_reaches_the_file(db: Path) -> None:
    with Store(db) as store:
        vault = Vault(store, MasterKeyring(K1))
        vault.put("tradier_token", TRADIER_TEST_TOKEN)
        vault.put("massive_key", MASSIVE_TEST_API_KEY)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = db.read_bytes()
    for leaked in (TRADIER_TEST_TOKEN, MASSIVE_TEST_API_KEY, TEST_MASTER_KEY):
        assert leaked.encode() not in raw
    assert bytes(range(32)) not in raw


def test_each_write_uses_fresh_data_key_and_nonces(store: Store) -> None:
    vault = Vault(store, MasterKeyring(K1))
    rows = []
    for _ in range(2):
        vault.put("t", TRADIER_TEST_TOKEN)
        rows.append(store.conn.execute(
            "SELECT ciphertext, nonce, wrapped_key, wrap_nonce FROM spx_secrets").fetchone())
    for a, b in zip(rows[0], rows[1], strict=True):
        assert a != b
    assert len(rows[0]["nonce"]) == 12 and len(rows[0]["wrap_nonce"]) == 12
    # value + 16-byte tag; data key (32) + 16-byte tag
    assert len(rows[0]["ciphertext"]) == len(TRADIER_TEST_TOKEN) + 16
    assert len(rows[0]["wrapped_key"]) == 48


def test_golden_row_stays_readable() -> None:
    """A row written by version 1 of the format (fixed bytes) must decrypt forever."""
    sealed = Sealed(
        ciphertext=bytes.fromhex("f37ce96aacdca24a821c84977cf3bdcc3b9f21ee8b1f65ae83bb81b609"
                                 "7287ee2ff16dda43defabf41"),
        nonce=bytes.fromhex("dbc88f7bf8409e22ccc692c1"),
        wrappings=(Wrapping(
            wrapped_key=bytes.fromhex("c22b87f3d4607aff4ff506a28e46ecbedd1aa212fcf14c31ccf2e8"
                                      "befcae4a67ddd3b1b7c6fa218dc60f5551af87aac6"),
            wrap_nonce=bytes.fromhex("7b8b9e07200a30a6bf2d75a3"), master_key_id=K1_ID),))
    plain = open_value(sealed, name="tradier_token", version=3, keyring=MasterKeyring(K1))
    assert plain == TRADIER_TEST_TOKEN
    with pytest.raises(DecryptionError):
        open_value(sealed, name="tradier_token", version=2, keyring=MasterKeyring(K1))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}", fullmatch=True),
       value=st.text(min_size=1, max_size=300))
def test_round_trip_property(tmp_path: Path, name: str, value: str) -> None:
    with Store(tmp_path / "prop.sqlite3") as store:
        vault = Vault(store, MasterKeyring(K1))
        vault.put(name, value)
        assert vault.get(name).reveal() == value


def _tamper(store: Store, sql: str, *params: object) -> None:
    with store.transaction() as cur:
        cur.execute(sql, params)


@pytest.fixture
def two_secrets(store: Store) -> Vault:
    vault = Vault(store, MasterKeyring(K1))
    vault.put("tradier_token", TRADIER_TEST_TOKEN)
    vault.put("massive_key", MASSIVE_TEST_API_KEY)
    return vault


def test_tampered_ciphertext_detected(two_secrets: Vault, store: Store) -> None:
    ct = bytearray(store.conn.execute(
        "SELECT ciphertext FROM spx_secrets WHERE name='tradier_token'").fetchone()[0])
    ct[0] ^= 0x01
    _tamper(store, "UPDATE spx_secrets SET ciphertext=? WHERE name='tradier_token'", bytes(ct))
    with pytest.raises(DecryptionError) as info:
        two_secrets.get("tradier_token")
    assert str(info.value) == ("cannot decrypt secret 'tradier_token': ciphertext failed "
                               "authentication (the row was tampered with or is corrupt)")


def test_ciphertext_moved_to_another_name_detected(two_secrets: Vault, store: Store) -> None:
    _tamper(store, "DELETE FROM spx_secrets WHERE name='massive_key'")
    _tamper(store, "UPDATE spx_secrets SET name='massive_key' WHERE name='tradier_token'")
    with pytest.raises(DecryptionError, match="cannot decrypt secret 'massive_key': wrapped data"):
        two_secrets.get("massive_key")


def test_value_swapped_between_rows_detected(two_secrets: Vault, store: Store) -> None:
    a = store.conn.execute(
        "SELECT ciphertext, nonce FROM spx_secrets WHERE name='tradier_token'").fetchone()
    _tamper(store, "UPDATE spx_secrets SET ciphertext=?, nonce=? WHERE name='massive_key'",
            a[0], a[1])
    with pytest.raises(DecryptionError, match="ciphertext failed authentication"):
        two_secrets.get("massive_key")


def test_wrapped_key_swapped_between_rows_detected(two_secrets: Vault, store: Store) -> None:
    a = store.conn.execute(
        "SELECT wrapped_key, wrap_nonce FROM spx_secrets WHERE name='tradier_token'").fetchone()
    _tamper(store, "UPDATE spx_secrets SET wrapped_key=?, wrap_nonce=? WHERE name='massive_key'",
            a[0], a[1])
    with pytest.raises(DecryptionError) as info:
        two_secrets.get("massive_key")
    assert str(info.value) == (
        f"cannot decrypt secret 'massive_key': wrapped data key failed authentication under "
        f"master key {K1_ID} (wrong key, or the row was tampered with)")


def test_flipped_wrapped_key_and_version_detected(two_secrets: Vault, store: Store) -> None:
    wk = bytearray(store.conn.execute(
        "SELECT wrapped_key FROM spx_secrets WHERE name='massive_key'").fetchone()[0])
    wk[-1] ^= 0x80
    _tamper(store, "UPDATE spx_secrets SET wrapped_key=? WHERE name='massive_key'", bytes(wk))
    _tamper(store, "UPDATE spx_secrets SET version=7 WHERE name='tradier_token'")
    for name in ("massive_key", "tradier_token"):
        with pytest.raises(DecryptionError, match="wrapped data key failed authentication"):
            two_secrets.get(name)


def test_relabelled_master_key_id_detected(two_secrets: Vault, store: Store) -> None:
    _tamper(store, "UPDATE spx_secrets SET master_key_id=? WHERE name='tradier_token'", K2_ID)
    with pytest.raises(DecryptionError, match="wrapped data key failed authentication"):
        Vault(store, MasterKeyring(K2, K1)).get("tradier_token")


def test_wrong_master_key(two_secrets: Vault, store: Store) -> None:
    with pytest.raises(DecryptionError) as info:
        Vault(store, MasterKeyring(K2)).get("tradier_token")
    assert str(info.value) == (
        f"cannot decrypt secret 'tradier_token': master key {K2_ID} does not match "
        f"(the secret is wrapped under master key {K1_ID})")
    with pytest.raises(DecryptionError, match=f"master key {K2_ID} does not match the stored"):
        Vault(store, MasterKeyring(K2)).put("other", TRADIER_SANDBOX_TEST_TOKEN)
    assert [i.name for i in two_secrets.list()] == ["massive_key", "tradier_token"]


def test_not_found_bad_names_and_values(store: Store) -> None:
    vault = Vault(store, MasterKeyring(K1))
    with pytest.raises(SecretNotFoundError, match="secret 'nope' not found in"):
        vault.get("nope")
    with pytest.raises(SecretNotFoundError):
        vault.delete("nope")
    for bad in ("", "-lead", "has space", "x" * 129, "ünï"):
        with pytest.raises(InputError, match="secret name"):
            vault.put(bad, TRADIER_TEST_TOKEN)
    with pytest.raises(InputError, match="secret 'x': value is empty"):
        vault.put("x", "")
    with pytest.raises(InputError, match="longer than 65536 bytes"):
        vault.put("x", "a" * 65537)
    with pytest.raises(SecretError, match="needs the master key"):
        Vault(store).get("x")


def test_delete(two_secrets: Vault) -> None:
    two_secrets.delete("massive_key")
    assert [i.name for i in two_secrets.list()] == ["tradier_token"]


NAMES = ("a_token", "b_token", "c_token", "d_token")
VALUES = {n: f"{TRADIER_TEST_TOKEN}-{n}" for n in NAMES}


def test_rotation_with_interleaved_reads(db: Path) -> None:
    with Store(db) as s:
        writer = Vault(s, MasterKeyring(K1))
        for n in NAMES:
            writer.put(n, VALUES[n])
        before = {r["name"]: (r["ciphertext"], r["nonce"]) for r in
                  s.conn.execute("SELECT name, ciphertext, nonce FROM spx_secrets")}
    # three processes' worth of connections: the rotator, a reader still on the old key
    # and a reader already on the new key
    with Store(db) as rs, Store(db) as old_s, Store(db) as new_s:
        rotator = Vault(rs, MasterKeyring(K1))
        old_reader = Vault(old_s, MasterKeyring(K1))
        new_reader = Vault(new_s, MasterKeyring(K2))
        done: list[str] = []
        for name, changed in rotator.iter_rotate(K2):
            assert changed
            done.append(name)
            for n in NAMES:
                assert old_reader.get(n).reveal() == VALUES[n]
                if n in done:
                    assert new_reader.get(n).reveal() == VALUES[n]
                else:
                    with pytest.raises(DecryptionError, match=f"master key {K2_ID} does not"):
                        new_reader.get(n)
        assert done == list(NAMES)
        # a write during the rotation by a process holding both keys stays readable by both
        Vault(new_s, MasterKeyring(K2, K1)).put("e_token", TRADIER_SANDBOX_TEST_TOKEN)
        assert old_reader.get("e_token").reveal() == TRADIER_SANDBOX_TEST_TOKEN
        assert new_reader.get("e_token").reveal() == TRADIER_SANDBOX_TEST_TOKEN
        infos = {i.name: (i.master_key_id, i.previous_master_key_id) for i in rotator.list()}
        assert set(infos.values()) == {(K2_ID, K1_ID)}
        # values were not re-encrypted
        after = {r["name"]: (r["ciphertext"], r["nonce"]) for r in
                 rs.conn.execute("SELECT name, ciphertext, nonce FROM spx_secrets")}
        assert all(after[n] == before[n] for n in NAMES)
        # a second rotation run is a no-op
        report = rotator.rotate(K2)
        assert (report.rewrapped, report.already_current, report.remaining) == (
            (), (*NAMES, "e_token"), ())
        # finishing: only the new key opens the vault
        assert Vault(new_s, MasterKeyring(K2)).finish_rotation() == 5
        assert new_reader.get("a_token").reveal() == VALUES["a_token"]
        with pytest.raises(DecryptionError, match=f"master key {K1_ID} does not match"):
            old_reader.get("a_token")


def test_finish_refuses_while_a_secret_is_behind(store: Store) -> None:
    Vault(store, MasterKeyring(K1)).put("a_token", VALUES["a_token"])
    report = Vault(store, MasterKeyring(K1)).rotate(K2)
    assert report.rewrapped == ("a_token",)
    # a process still on the old key only writes during the rotation
    Vault(store, MasterKeyring(K1)).put("late_token", VALUES["b_token"])
    with pytest.raises(SecretError) as info:
        Vault(store, MasterKeyring(K2)).finish_rotation()
    assert str(info.value) == (
        f"cannot finish rotation: 1 secret(s) are not wrapped under master key {K2_ID} yet "
        "('late_token'); run `spxcc secrets rotate` with this key as the new key first")
    again = Vault(store, MasterKeyring(K1)).rotate(K2)
    assert (again.rewrapped, again.already_current, again.remaining) == (
        ("late_token",), ("a_token",), ())
    assert Vault(store, MasterKeyring(K2)).finish_rotation() == 2
    assert Vault(store, MasterKeyring(K2)).get("late_token").reveal() == VALUES["b_token"]


def test_rotation_under_concurrent_readers(db: Path) -> None:
    with Store(db) as s:
        writer = Vault(s, MasterKeyring(K1))
        names = [f"t{i:02d}" for i in range(40)]
        for n in names:
            writer.put(n, f"{MASSIVE_TEST_API_KEY}-{n}")
    errors: list[str] = []
    reads = [0]
    stop = threading.Event()
    started = threading.Event()

    def reader() -> None:
        with Store(db) as rs:
            vault = Vault(rs, MasterKeyring(K1))
            while not stop.is_set():
                for n in names:
                    try:
                        ok = vault.get(n).reveal() == f"{MASSIVE_TEST_API_KEY}-{n}"
                    except SecretError as exc:
                        errors.append(f"{n}: {exc}")
                        return
                    if not ok:
                        errors.append(f"{n}: wrong value")
                    reads[0] += 1
                started.set()

    thread = threading.Thread(target=reader)
    thread.start()
    assert started.wait(timeout=60)
    try:
        with Store(db) as s:
            report = Vault(s, MasterKeyring(K1)).rotate(K2)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert reads[0] > 0
    assert len(report.rewrapped) == 40


def test_resolve_prefers_env_then_vault(store: Store) -> None:
    Vault(store, MasterKeyring(K1)).put("tradier_token", TRADIER_TEST_TOKEN)
    source = MasterKeySource.from_env_or_file(None, environ={"SPXCC_MASTER_KEY": TEST_MASTER_KEY})
    env = {"SPXCC_TRADIER_TOKEN": TRADIER_SANDBOX_TEST_TOKEN}
    got = resolve_secret("tradier_token", store=store, key_source=source,
                         env_var="SPXCC_TRADIER_TOKEN", environ=env)
    assert got.reveal() == TRADIER_SANDBOX_TEST_TOKEN
    assert got.source == "env SPXCC_TRADIER_TOKEN"
    got = resolve_secret("tradier_token", store=store, key_source=source,
                         env_var="SPXCC_TRADIER_TOKEN", environ={"SPXCC_TRADIER_TOKEN": ""})
    assert (got.reveal(), got.source) == (TRADIER_TEST_TOKEN, "vault")
    # env only: no store and no key needed when the variable is set
    got = resolve_secret("tradier_token", store=None, key_source=None,
                         env_var="SPXCC_TRADIER_TOKEN", environ=env)
    assert got.reveal() == TRADIER_SANDBOX_TEST_TOKEN


def test_resolve_errors(store: Store) -> None:
    with pytest.raises(SecretNotFoundError) as info:
        resolve_secret("tradier_token", store=None, key_source=None,
                       env_var="SPXCC_TRADIER_TOKEN", environ={})
    assert str(info.value) == ("secret 'tradier_token' not available: environment variable "
                               "SPXCC_TRADIER_TOKEN is not set and no vault to read (no store "
                               "given)")
    source = MasterKeySource.from_env_or_file(None, environ={"SPXCC_MASTER_KEY": TEST_MASTER_KEY})
    with pytest.raises(SecretNotFoundError, match="store it with `spxcc secrets set tradier_"):
        resolve_secret("tradier_token", store=store, key_source=source,
                       env_var="SPXCC_TRADIER_TOKEN", environ={})
    Vault(store, MasterKeyring(K1)).put("tradier_token", TRADIER_TEST_TOKEN)
    wrong = MasterKeySource.from_keys(K2)
    with pytest.raises(DecryptionError, match=f"master key {K2_ID} does not match"):
        resolve_secret("tradier_token", store=store, key_source=wrong)
