"""`Secret` never shows its value: repr, str, format, logging, json, msgspec, pickle, errors."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import traceback

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from secret_tokens import TRADIER_SANDBOX_TEST_TOKEN, TRADIER_TEST_TOKEN

from spxcc_core.secrets import REDACTED, Secret, secret_enc_hook


@pytest.fixture
def secret() -> Secret:
    return Secret(TRADIER_TEST_TOKEN, name="tradier_token", source="vault")


def test_reveal_is_the_only_way_to_the_value(secret: Secret) -> None:
    assert secret.reveal() == TRADIER_TEST_TOKEN
    assert secret.name == "tradier_token"
    assert secret.source == "vault"


def test_repr_str_and_format(secret: Secret) -> None:
    assert repr(secret) == "Secret(name='tradier_token', source='vault', value='***')"
    assert str(secret) == "***"
    assert f"{secret}" == "***"
    assert f"{secret!r}" == repr(secret)
    assert f"{secret:>40}" == "***"
    assert f"{secret:s}" == "***"
    assert "%s" % secret == "***"  # noqa: UP031
    assert "%r" % (secret,) == repr(secret)  # noqa: UP031
    assert "{}".format(secret) == "***"  # noqa: UP032
    assert str([secret]) == "[Secret(name='tradier_token', source='vault', value='***')]"
    assert str({"token": secret}) == (
        "{'token': Secret(name='tradier_token', source='vault', value='***')}")


def test_logging_shows_redacted(secret: Secret, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("spxcc.test.secrets")
    with caplog.at_level(logging.DEBUG):
        log.info("token %s", secret)
        log.info("token %r", secret)
        log.info("token", extra={"token": secret})
        log.info(secret)
        log.info({"token": secret})
    text = caplog.text
    assert TRADIER_TEST_TOKEN not in text
    assert "token ***" in text
    assert "value='***'" in text
    assert [r.getMessage() for r in caplog.records][:2] == [
        "token ***", "token Secret(name='tradier_token', source='vault', value='***')"]


def test_json_dumps_raises_without_the_value(secret: Secret) -> None:
    with pytest.raises(TypeError) as info:
        json.dumps({"token": secret})
    assert TRADIER_TEST_TOKEN not in str(info.value)
    assert json.dumps({"token": secret}, default=str) == '{"token": "***"}'


def test_msgspec_raises_or_redacts(secret: Secret) -> None:
    with pytest.raises(TypeError) as info:
        msgspec.json.encode({"token": secret})
    assert TRADIER_TEST_TOKEN not in str(info.value)
    enc = msgspec.json.Encoder(enc_hook=secret_enc_hook)
    assert enc.encode({"token": secret, "n": 1}) == b'{"token":"***","n":1}'

    class Creds(msgspec.Struct):
        account: str
        token: object

    assert enc.encode(Creds(account="VA123", token=secret)) == b'{"account":"VA123","token":"***"}'


def test_enc_hook_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        msgspec.json.Encoder(enc_hook=secret_enc_hook).encode(object())


def test_pickle_refused(secret: Secret) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError) as info:
            pickle.dumps(secret, protocol=protocol)
        assert "refusing to pickle secret 'tradier_token'" in str(info.value)
        assert TRADIER_TEST_TOKEN not in str(info.value)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [secret]})


def test_copy_keeps_identity_and_never_serialises(secret: Secret) -> None:
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"a": secret})["a"] is secret


def test_immutable_and_no_dict(secret: Secret) -> None:
    with pytest.raises(AttributeError):
        secret._value = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del secret._name  # type: ignore[misc]
    with pytest.raises(TypeError):
        vars(secret)
    with pytest.raises(TypeError):
        bytes(secret)  # type: ignore[call-overload]


def test_exceptions_and_tracebacks_with_locals(secret: Secret) -> None:
    def fail(token: Secret) -> None:
        raise ValueError("could not use", token)

    with pytest.raises(ValueError) as info:
        fail(secret)
    assert TRADIER_TEST_TOKEN not in str(info.value)
    assert TRADIER_TEST_TOKEN not in repr(info.value)
    rendered = "".join(traceback.TracebackException.from_exception(
        info.value, capture_locals=True).format())
    assert TRADIER_TEST_TOKEN not in rendered
    assert "token = Secret(name='tradier_token', source='vault', value='***')" in rendered


def test_rich_pretty_repr(secret: Secret) -> None:
    from rich.pretty import pretty_repr

    assert TRADIER_TEST_TOKEN not in pretty_repr({"token": secret})


def test_equality_is_by_value_and_unhashable() -> None:
    a = Secret(TRADIER_TEST_TOKEN, name="a")
    assert a == Secret(TRADIER_TEST_TOKEN, name="b")
    assert a != Secret(TRADIER_SANDBOX_TEST_TOKEN, name="a")
    assert a != TRADIER_TEST_TOKEN  # a Secret never equals a plain string
    with pytest.raises(TypeError):
        hash(a)


def test_rejects_empty_and_non_str() -> None:
    with pytest.raises(ValueError, match="secret 'x': value is empty"):
        Secret("", name="x")
    with pytest.raises(TypeError, match="must be str, not bytes"):
        Secret(b"abc", name="x")  # type: ignore[arg-type]


@given(st.text(min_size=1), st.text(max_size=20))
def test_no_rendering_contains_the_value(value: str, spec: str) -> None:
    s = Secret(value, name="n")
    assert s.reveal() == value
    assert str(s) == REDACTED
    assert format(s, spec) == REDACTED
    assert repr(s) == "Secret(name='n', value='***')"
