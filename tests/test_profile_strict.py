"""The profile loader (strict cattrs converter): every message as the loader has always
written it, no silent coercion, and the same hashes."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.detect.gating import GatingProfile
from spxcc_core.detect.profile import (
    DEFAULT_PROFILE_TOML,
    parse_profile,
    profile_hash,
    resolve_detectors,
    resolve_providers,
)
from spxcc_core.detect.runner import CONTEXT_PROVIDERS, DETECTORS
from spxcc_core.detect.strict import StrictError, structure
from spxcc_core.errors import ConfigError
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.registry import as_registry

H = 'name="p"\nversion=1\n'
D = DEFAULT_PROFILE_TOML
_REG = as_registry(get_plugin_manager())


def _load(text: str) -> str:
    """Parse and resolve against the installed plugins; the profile hash."""
    p = parse_profile(text, "my.toml")
    dets = resolve_detectors(p, _REG.classes(DETECTORS))
    provs = resolve_providers(p, _REG.classes(CONTEXT_PROVIDERS))
    return profile_hash(p, dets, provs)


# Messages recorded from the msgspec-based loader before the switch to cattrs (reviewed):
# the text of every error is kept exactly.
@pytest.mark.parametrize(("text", "message"), [
    ('version=1',
     'profile my.toml: Object missing required field `name`'),
    ('name="p"',
     'profile my.toml: Object missing required field `version`'),
    ('name=5\nversion=1',
     'profile my.toml: Expected `str`, got `int` - at `$.name`'),
    ('name="p"\nversion="1"',
     'profile my.toml: Expected `int`, got `str` - at `$.version`'),
    ('name="p"\nversion=1.0',
     'profile my.toml: Expected `int`, got `float` - at `$.version`'),
    ('name="p"\nversion=true',
     'profile my.toml: Expected `int`, got `bool` - at `$.version`'),
    (H + 'speed=1',
     'profile my.toml: Object contains unknown field `speed`'),
    (H + 'context=3',
     'profile my.toml: Expected `object`, got `int` - at `$.context`'),
    (H + 'gating=3',
     'profile my.toml: Expected `object`, got `int` - at `$.gating`'),
    (H + 'detectors=3',
     'profile my.toml: Expected `object`, got `int` - at `$.detectors`'),
    (H + 'providers=3',
     'profile my.toml: Expected `object`, got `int` - at `$.providers`'),
    (H + '[detectors]\nvwap=3',
     'profile my.toml: Expected `object`, got `int` - at `$.detectors[...]`'),
    (H + '[providers]\ngamma=3',
     'profile my.toml: Expected `object`, got `int` - at `$.providers[...]`'),
    (H + '[context]\nwindow_bars=0',
     "profile my.toml [context]: 'window_bars' must be >= 1: 0"),
    (H + '[context]\nwindow_bars=1.5',
     'profile my.toml [context]: Expected `int`, got `float` - at `$.window_bars`'),
    (H + '[context]\nwindow_bars="3"',
     'profile my.toml [context]: Expected `int`, got `str` - at `$.window_bars`'),
    (H + '[context]\nwindow_bars=true',
     'profile my.toml [context]: Expected `int`, got `bool` - at `$.window_bars`'),
    (H + '[context]\nwindows=3',
     "profile my.toml [context]: unknown key 'windows' (known: window_bars)"),
    (H + '[gating]\nmax_spread_bps=3',
     "profile my.toml [gating]: unknown key 'max_spread_bps' (known: long_max_ask_bid_size_ratio, long_min_bid_ask_imbalance, max_avg_spread_bps, min_quote_coverage_pct, missing, short_max_bid_ask_imbalance, short_min_ask_bid_size_ratio)"),
    (H + '[gating]\nmin_quote_coverage_pct=120',
     "profile my.toml [gating]: 'min_quote_coverage_pct' must be in [0, 100], got 120.0"),
    (H + '[gating]\nmissing="ignore"',
     "profile my.toml [gating]: Invalid enum value 'ignore' - at `$.missing`"),
    (H + '[gating]\nmissing=1',
     'profile my.toml [gating]: Expected `str`, got `int` - at `$.missing`'),
    (H + '[gating]\nmax_avg_spread_bps="5"',
     'profile my.toml [gating]: Expected `float`, got `str` - at `$.max_avg_spread_bps`'),
    (H + '[gating]\nmax_avg_spread_bps=true',
     'profile my.toml [gating]: Expected `float`, got `bool` - at `$.max_avg_spread_bps`'),
    (H + '[gating]\nmax_avg_spread_bps=[1]',
     'profile my.toml [gating]: Expected `float`, got `array` - at `$.max_avg_spread_bps`'),
    (H + '[gating]\nmax_avg_spread_bps=2025-01-01',
     'profile my.toml [gating]: Expected `float`, got `date` - at `$.max_avg_spread_bps`'),
    (H + '[gating]\nmax_avg_spread_bps={a=1}',
     'profile my.toml [gating]: Expected `float`, got `object` - at `$.max_avg_spread_bps`'),
    (H + '[gating]\nmax_avg_spread_bps=nan',
     "profile my.toml [gating]: 'max_avg_spread_bps' must be finite, got nan"),
    (H + '[gating]\nmax_avg_spread_bps=inf',
     "profile my.toml [gating]: 'max_avg_spread_bps' must be finite, got inf"),
    (H + '[outcome]\nt1_fraction=2.0',
     "profile my.toml [outcome]: 't1_fraction' must be in [0, 1], got 2.0"),
    (H + '[outcome]\nbreakeven_after_t1="true"',
     'profile my.toml [outcome]: Expected `bool`, got `str` - at `$.breakeven_after_t1`'),
    (H + '[outcome]\nbreakeven_after_t1=1',
     'profile my.toml [outcome]: Expected `bool`, got `int` - at `$.breakeven_after_t1`'),
    (H + '[detectors.vwap]\nversion=1\nenable=false',
     'profile my.toml [detectors.vwap]: Object contains unknown field `enable`'),
    (H + '[detectors.vwap]\nenabled=false',
     'profile my.toml [detectors.vwap]: Object missing required field `version`'),
    (H + '[detectors.vwap]\nversion="1"',
     'profile my.toml [detectors.vwap]: Expected `int`, got `str` - at `$.version`'),
    (H + '[detectors.vwap]\nversion=1\nenabled="no"',
     'profile my.toml [detectors.vwap]: Expected `bool`, got `str` - at `$.enabled`'),
    (H + '[detectors.vwap]\nversion=1\nparams=3',
     'profile my.toml [detectors.vwap]: Expected `object`, got `int` - at `$.params`'),
    (H + '[detectors.vwap]\nversion=1\nparams=[1]',
     'profile my.toml [detectors.vwap]: Expected `object`, got `array` - at `$.params`'),
    (H + '[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nconfirm=2',
     "profile my.toml [detectors.vwap.params]: unknown key 'confirm' (known: confirm_bps, cooldown_bars, min_bars_beyond, min_risk_bps, min_rth_minutes, reclaim, rejection, rth_only, stop_buffer_bps, t1_r, t2_r, touch_bps, trigger_window_s)"),
    (H + '[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nt1_r=3.0',
     "profile my.toml [detectors.vwap.params]: 't2_r' (2.0) must be >= 't1_r' (3.0)"),
    (H + '[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nt1_r="3"',
     'profile my.toml [detectors.vwap.params]: Expected `float`, got `str` - at `$.t1_r`'),
    (H + '[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nmin_bars_beyond=2.0',
     'profile my.toml [detectors.vwap.params]: Expected `int`, got `float` - at `$.min_bars_beyond`'),
    (H + '[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nreclaim=0',
     'profile my.toml [detectors.vwap.params]: Expected `bool`, got `int` - at `$.reclaim`'),
    (H + '[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nmin_bars_beyond=0',
     "profile my.toml [detectors.vwap.params]: 'min_bars_beyond' must be >= 1: 0"),
    (H + '[detectors.vwap]\nversion=2',
     'profile my.toml: [detectors.vwap] is for version 2, the installed detector is version 1'),
    (H + '[detectors.vwapp]\nversion=1',
     "profile my.toml: detector 'vwapp' is not installed (installed: orb_pullback, volume_climax, vwap)"),
    (D + '[providers.gamma]\nrecompute = 30\n',
     "profile my.toml [providers.gamma]: unknown key 'recompute' (known: call_sign, dividend, flow_sign, index_max_age_s, min_t_minutes, proxy_ratio, proxy_symbol, put_sign, rate, recompute_s)"),
    (D + '[providers.gamma]\ncall_sign = 2\n',
     "profile my.toml [providers.gamma]: 'call_sign' must be +1 or -1, got 2"),
    (D + '[providers.gamma]\nrecompute_s = "fast"\n',
     'profile my.toml [providers.gamma]: Expected `float`, got `str` - at `$.recompute_s`'),
    (D + '[providers.vega]\nx = 1\n',
     "profile my.toml: provider 'vega' is not installed (installed: gamma)"),
    (D + '[providers.gamma]\ncall_sign = 1.0\n',
     'profile my.toml [providers.gamma]: Expected `int`, got `float` - at `$.call_sign`'),
    (D + '[providers.gamma]\nproxy_symbol = 3\n',
     'profile my.toml [providers.gamma]: Expected `str`, got `int` - at `$.proxy_symbol`'),
    (H + 'version=2',
     'profile my.toml: invalid TOML: Cannot overwrite a value (at end of document)'),
])
def test_every_error_message_is_unchanged(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(("text", "digest"), [
    (H + '[gating]\nmax_avg_spread_bps=5', '8068140773e7fe0d'),
    (D + '[providers.gamma]\nrecompute_s = 30\n', 'b353b365a058ece0'),
    (D, "e1a954d6a5628683"),  # the default: every golden setup's profileHash
])
def test_hashes_are_unchanged(text: str, digest: str) -> None:
    assert _load(text) == digest


def test_an_int_for_a_float_becomes_a_float() -> None:
    # 5 and 5.0 are the same parameter: the same hash (the resolved value is a float)
    p = parse_profile(H + "[gating]\nmax_avg_spread_bps=5", "a")
    assert p.gating.max_avg_spread_bps == 5.0
    assert isinstance(p.gating.max_avg_spread_bps, float)
    assert _load(H + "[gating]\nmax_avg_spread_bps=5") == \
        _load(H + "[gating]\nmax_avg_spread_bps=5.0")


@given(st.text(max_size=8))
def test_no_string_is_ever_a_float(value: str) -> None:
    with pytest.raises(StrictError, match=r"Expected `float`, got `str` - at `\$\.max_avg_spread_bps`"):
        structure({"max_avg_spread_bps": value}, GatingProfile)


@attrs.frozen
class Flags:
    on: bool = False


@attrs.frozen
class Inner:
    n: int


@attrs.frozen
class Outer:
    inner: Inner
    items: tuple[int, ...] = ()


@given(st.integers(-5, 5))
def test_no_integer_is_ever_a_bool(value: int) -> None:
    with pytest.raises(StrictError, match=r"Expected `bool`, got `int` - at `\$\.on`"):
        structure({"on": value}, Flags)


def test_nested_paths_and_missing_fields() -> None:
    with pytest.raises(StrictError, match=r"^Expected `int`, got `str` - at `\$\.inner\.n`$"):
        structure({"inner": {"n": "1"}}, Outer)
    with pytest.raises(StrictError, match=r"^Object missing required field `n` - at `\$\.inner`$"):
        structure({"inner": {}}, Outer)
    with pytest.raises(StrictError, match=r"^Object contains unknown field `m` - at `\$\.inner`$"):
        structure({"inner": {"n": 1, "m": 2}}, Outer)
    with pytest.raises(StrictError, match=r"^Expected `int`, got `float` - at `\$\.items\[1\]`$"):
        structure({"inner": {"n": 1}, "items": [1, 2.5]}, Outer)
    assert structure({"inner": {"n": 1}, "items": [1, 2]}, Outer) == Outer(Inner(1), (1, 2))
