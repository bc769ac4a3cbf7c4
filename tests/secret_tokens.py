"""Known test secrets. Every test that handles a secret value uses one of these constants, so
that ``tests/leakcheck.py`` can fail the session when any of them shows up in captured output
(stdout, stderr, logs, failure reports, warnings) of ANY test."""

from __future__ import annotations

#: A Tradier API token as tests use it.
TRADIER_TEST_TOKEN = "tradier-test-token-7f3a9c"
#: A second broker token (sandbox account).
TRADIER_SANDBOX_TEST_TOKEN = "tradier-sandbox-token-2b8e41"
#: A Massive (Polygon) API key.
MASSIVE_TEST_API_KEY = "massive-test-key-5d0c77"
#: Master keys (urlsafe base64 of 32 bytes): bytes 0..31 and bytes 32..63.
TEST_MASTER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
TEST_MASTER_KEY_2 = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

#: Every known test secret by constant name; the leak checker looks for each of these.
KNOWN_TEST_TOKENS: dict[str, str] = {
    "TRADIER_TEST_TOKEN": TRADIER_TEST_TOKEN,
    "TRADIER_SANDBOX_TEST_TOKEN": TRADIER_SANDBOX_TEST_TOKEN,
    "MASSIVE_TEST_API_KEY": MASSIVE_TEST_API_KEY,
    "TEST_MASTER_KEY": TEST_MASTER_KEY,
    "TEST_MASTER_KEY_2": TEST_MASTER_KEY_2,
}
