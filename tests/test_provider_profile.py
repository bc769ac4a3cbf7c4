"""Context-provider parameters from the profile: ``[providers.NAME]`` tables."""

from __future__ import annotations

import pytest
from spxcc_gamma.provider import GammaParams

from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML, parse_profile
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.errors import ConfigError
from spxcc_core.plugins import get_plugin_manager

GAMMA_TABLE = """
[providers.gamma]
recompute_s = 30.0
call_sign = -1
put_sign = 1
rate = 0.05
"""


def gamma(runner: DetectorRunner) -> tuple[object, bool]:
    [r] = [r for r in runner.resolved_providers if r.cls.name == "gamma"]
    return r.params, r.from_profile


def test_a_valid_providers_table_sets_the_gamma_parameters() -> None:
    runner = DetectorRunner(get_plugin_manager(),
                            parse_profile(DEFAULT_PROFILE_TOML + GAMMA_TABLE, "tuned.toml"))
    params, from_profile = gamma(runner)
    assert from_profile
    assert params == GammaParams(recompute_s=30.0, call_sign=-1, put_sign=1, rate=0.05)
    # untouched keys keep their defaults
    assert (params.proxy_symbol, params.proxy_ratio, params.flow_sign) == ("SPY", 10.0, -1)
    # tuned provider parameters change the profile hash ...
    assert runner.profile_hash != "e1a954d6a5628683"


def test_without_a_providers_table_defaults_and_the_hash_are_unchanged() -> None:
    runner = DetectorRunner(get_plugin_manager(), parse_profile(DEFAULT_PROFILE_TOML, "p.toml"))
    assert gamma(runner) == (GammaParams(), False)
    # profileHash of every committed golden setup (tests/golden/*/expected/setups.jsonl)
    assert runner.profile_hash == "e1a954d6a5628683"


@pytest.mark.parametrize(("table", "message"), [
    ("[providers.gamma]\nrecompute = 30\n",
     "profile bad.toml [providers.gamma]: unknown key 'recompute' (known: call_sign, "
     "dividend, flow_sign, index_max_age_s, min_t_minutes, proxy_ratio, proxy_symbol, "
     "put_sign, rate, recompute_s)"),
    ("[providers.gamma]\ncall_sign = 2\n",
     "profile bad.toml [providers.gamma]: 'call_sign' must be +1 or -1, got 2"),
    ("[providers.gamma]\nrecompute_s = \"fast\"\n",
     "profile bad.toml [providers.gamma]: Expected `float`, got `str` - at `$.recompute_s`"),
    ("[providers.vega]\nx = 1\n",
     "profile bad.toml: provider 'vega' is not installed (installed: gamma)"),
])
def test_an_invalid_providers_table_is_a_clear_error(table: str, message: str) -> None:
    prof = parse_profile(DEFAULT_PROFILE_TOML + table, "bad.toml")
    with pytest.raises(ConfigError) as exc:
        DetectorRunner(get_plugin_manager(), prof)
    assert str(exc.value) == message


def test_a_providers_entry_that_is_not_a_table_is_rejected_at_parse_time() -> None:
    with pytest.raises(ConfigError, match=r"profile bad.toml: .*providers"):
        parse_profile("providers = 3\n" + DEFAULT_PROFILE_TOML, "bad.toml")
