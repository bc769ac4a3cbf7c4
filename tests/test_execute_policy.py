"""The [execution] table of a profile: defaults, unknown keys, ranges, the profile hash."""

from __future__ import annotations

import pytest

from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML, parse_profile, profile_hash
from spxcc_core.errors import ConfigError
from spxcc_core.execute.policy import ExecutionPolicy


def test_absent_table_means_defaults_and_leaves_the_hash_alone():
    plain = parse_profile(DEFAULT_PROFILE_TOML)
    assert plain.execution is None
    # the default profile's hash before [execution] existed (golden fixtures carry it)
    assert profile_hash(plain, []) == profile_hash(parse_profile(DEFAULT_PROFILE_TOML), [])
    with_table = parse_profile(DEFAULT_PROFILE_TOML + "\n[execution]\ntarget_delta = 0.4\n")
    assert with_table.execution == ExecutionPolicy(target_delta=0.4)
    assert profile_hash(with_table, []) != profile_hash(plain, [])
    # an empty table is present: it enters the hash with the default values
    empty = parse_profile(DEFAULT_PROFILE_TOML + "\n[execution]\n")
    assert empty.execution == ExecutionPolicy()
    assert profile_hash(empty, []) != profile_hash(plain, [])


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"\[execution\]: unknown key 'target_detla'"):
        parse_profile(DEFAULT_PROFILE_TOML + "\n[execution]\ntarget_detla = 0.3\n")


@pytest.mark.parametrize(("line", "word"), [
    ("target_delta = 1.0", "target_delta"),
    ("target_delta = 0", "target_delta"),
    ("max_spread = 0", "max_spread"),
    ("min_premium = 2.0\nmax_premium = 1.0", "max_premium"),
    ("max_contracts = 0", "max_contracts"),
    ("limit_ticks = -1", "limit_ticks"),
    ("target_delta = \"0.3\"", "float"),
    # infinities are refused when the profile is read, naming the key (a review saw
    # risk_budget = inf fail only at sizing, naming a flag of another command)
    ("risk_budget = inf", "risk_budget"),
    ("max_spread = inf", "max_spread"),
    ("max_premium = inf", "max_premium"),
    # a forced flat longer than the session before the close would skip every setup
    ("flat_before_close_s = 100000", "flat_before_close_s"),
])
def test_out_of_range_or_wrong_type_is_refused(line, word):
    with pytest.raises(ConfigError, match=word):
        parse_profile(DEFAULT_PROFILE_TOML + f"\n[execution]\n{line}\n")


@pytest.mark.parametrize(("option", "message"), [
    ("fill=bogus", "paper option fill: 'bogus' is not one of mid, touch, touch_ticks"),
    ("latency_ms=-5", "paper option latency_ms: must be a finite number >= 0, got -5.0"),
])
def test_paper_execute_options_are_named_as_typed(option, message, tmp_path, capsys):
    """The option the user typed, not an internal field (``latency_ns``) or an attrs repr."""
    from spxcc_core.cli import main
    from spxcc_core.sample import generate_session

    flat = generate_session(tmp_path / "s", scale=0.005).root
    code = main(["replay", str(flat), "--out", str(tmp_path / "out"), "--execute", "paper",
                 "--execute-option", option])
    assert code == 2
    assert capsys.readouterr().err == f"spxcc: error: {message}\n"
    assert not (tmp_path / "out").exists()
