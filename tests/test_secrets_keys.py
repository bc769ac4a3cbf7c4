"""Master keys: parsing, ids, key files and their permissions, key sources."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from secret_tokens import TEST_MASTER_KEY, TEST_MASTER_KEY_2

from spxcc_core.errors import ConfigError
from spxcc_core.secrets import (
    MasterKey,
    MasterKeyring,
    MasterKeySource,
    parse_master_key,
    read_key_file,
    write_key_file,
)

# Worked out independently with the standard library (HMAC-SHA256 HKDF, zero salt, one block):
# sha256(HMAC(HMAC(0^32, key), b"spxcc/master-key-id/v1" + b"\x01")).hexdigest()[:16]
KEY_ID_1 = "034e783d69751769"  # key bytes 0..31
KEY_ID_2 = "f3f83144e25b95ab"  # key bytes 32..63


def test_key_id_known_answers() -> None:
    assert parse_master_key(TEST_MASTER_KEY, source="t").key_id == KEY_ID_1
    assert MasterKey(bytes(range(32, 64))).key_id == KEY_ID_2


def test_accepts_standard_and_urlsafe_with_or_without_padding() -> None:
    raw = bytes([0xFB, 0xFF] * 16)  # encodes with '+' / '/' vs '-' / '_'
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    assert "+" in std or "/" in std
    ids = {parse_master_key(t, source="t").key_id
           for t in (std, url, std.rstrip("="), url.rstrip("="), f"  {url}\n", url.encode())}
    assert ids == {MasterKey(raw).key_id}


@pytest.mark.parametrize(("text", "problem"), [
    ("", "master key is empty"),
    ("   \n", "master key is empty"),
    ("not base64 at all!", "not valid base64"),
    (base64.b64encode(bytes(31)).decode(), "decodes to 31 bytes"),
    (base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes"),
    (TEST_MASTER_KEY + TEST_MASTER_KEY, "not valid base64"),
])
def test_rejects_malformed_keys_without_echoing_them(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_master_key(text, source="environment variable SPXCC_MASTER_KEY")
    message = str(info.value)
    assert message.startswith("environment variable SPXCC_MASTER_KEY: ")
    assert problem in message
    if text.strip():
        assert text.strip() not in message


def test_key_repr_and_keyring_show_only_ids() -> None:
    k1 = parse_master_key(TEST_MASTER_KEY, source="t")
    k2 = parse_master_key(TEST_MASTER_KEY_2, source="t")
    assert repr(k1) == f"MasterKey(id='{KEY_ID_1}')"
    ring = MasterKeyring(k2, k1)
    assert repr(ring) == f"MasterKeyring(ids=('{KEY_ID_2}', '{KEY_ID_1}'))"
    assert ring.find(KEY_ID_1) is k1
    assert ring.find("0" * 16) is None
    assert MasterKeyring(k1, parse_master_key(TEST_MASTER_KEY, source="t")).previous is None
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(k1)


def _key_file(tmp_path: Path, mode: int, text: str = TEST_MASTER_KEY) -> Path:
    path = tmp_path / "master.key"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_key_file_with_owner_only_permissions_is_read(tmp_path: Path, mode: int) -> None:
    assert read_key_file(_key_file(tmp_path, mode)).key_id == KEY_ID_1


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize(("mode", "shown"), [(0o644, "0644"), (0o640, "0640"), (0o604, "0604"),
                                             (0o620, "0620")])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int, shown: str) -> None:
    path = _key_file(tmp_path, mode)
    with pytest.raises(ConfigError) as info:
        read_key_file(path)
    assert str(info.value) == (
        f"key file {path}: permissions {shown} are too open (group/other may access it); "
        f"the key is refused; run `chmod 600 {path}`")


def test_key_file_missing_or_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_key_file(tmp_path / "absent.key")
    with pytest.raises(ConfigError, match="not a regular file"):
        read_key_file(tmp_path)


def test_key_file_malformed_is_not_echoed(tmp_path: Path) -> None:
    path = _key_file(tmp_path, 0o600, text=TEST_MASTER_KEY[:20])
    with pytest.raises(ConfigError) as info:
        read_key_file(path)
    assert f"key file {path}: master key must be base64 of exactly 32 bytes" in str(info.value)
    assert TEST_MASTER_KEY[:20] not in str(info.value)


def test_write_key_file_is_0600_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "new.key"
    write_key_file(path, TEST_MASTER_KEY_2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).key_id == KEY_ID_2
    with pytest.raises(ConfigError, match="already exists; refusing to overwrite"):
        write_key_file(path, TEST_MASTER_KEY)
    assert read_key_file(path).key_id == KEY_ID_2


def test_source_prefers_file_then_env_and_loads_lazily(tmp_path: Path) -> None:
    env = {"SPXCC_MASTER_KEY": TEST_MASTER_KEY_2}
    from_env = MasterKeySource.from_env_or_file(None, environ=env)
    assert from_env.keyring().key_ids == (KEY_ID_2,)
    assert repr(from_env) == "MasterKeySource(environment variable SPXCC_MASTER_KEY)"
    path = _key_file(tmp_path, 0o600)
    assert MasterKeySource.from_env_or_file(path, environ=env).keyring().key_ids == (KEY_ID_1,)
    both = MasterKeySource.from_env_or_file(
        None, environ={**env, "SPXCC_MASTER_KEY_PREVIOUS": TEST_MASTER_KEY})
    assert both.keyring().key_ids == (KEY_ID_2, KEY_ID_1)
    lazy = MasterKeySource.from_env_or_file(tmp_path / "absent.key", environ={})
    with pytest.raises(ConfigError, match=r"absent\.key: no such file"):
        lazy.keyring()


def test_source_without_any_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        MasterKeySource.from_env_or_file(None, environ={}).keyring()
    assert str(info.value) == ("no master key: set SPXCC_MASTER_KEY or pass --key-file PATH "
                               "(create one with `spxcc secrets keygen`)")
