"""Profile store and governance: ids, promote (refused without a promote decision unless
forced), revert (one command, recorded), history, and the active profile used by replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pluggy
import pytest

from spxcc_core.cli import main
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.gates import ReleaseDecision
from spxcc_core.errors import ConfigError
from spxcc_core.gates.governance import (
    Undoable,
    decision_id,
    effective_active_id,
    promote,
    revert,
    undo_stack,
)
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.run.profiles import (
    active_profile,
    default_profile_toml,
    named_profile,
    store_profile,
)
from spxcc_core.store.profiles import Activation, ProfileHistory
from spxcc_core.store.sqlite import Store

EXAMPLE = Path(__file__).resolve().parent.parent / "contracts" / "examples" / \
    "release_decision.v1.insufficient-drawdown.json"
DEFAULT_ID = "e1a954d6a5628683"  # the built-in default profile (tests/golden setups)


@pytest.fixture
def pm() -> pluggy.PluginManager:
    return get_plugin_manager()


@pytest.fixture
def history(store_target: str | Path) -> Iterator[ProfileHistory]:
    with Store(store_target) as db:
        yield ProfileHistory(db)


def _variant(tmp_path: Path, pm: pluggy.PluginManager, name: str, spike: str) -> Path:
    text = default_profile_toml(pm).replace('name = "default"', f'name = "{name}"')
    text = text.replace("spike_multiple = 4.0", f"spike_multiple = {spike}")
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _decision(tmp_path: Path, *, decision: str, candidate: str, baseline: str) -> Path:
    d = msgspec.json.decode(EXAMPLE.read_bytes(), type=ReleaseDecision)
    d = msgspec.structs.replace(
        d, decision=decision, candidate=msgspec.structs.replace(d.candidate, id=candidate),
        baseline=msgspec.structs.replace(d.baseline, id=baseline))
    path = tmp_path / f"decision-{decision}-{candidate}.json"
    path.write_bytes(msgspec.json.encode(d))
    return path


def test_the_default_profile_text_has_the_default_id(pm: pluggy.PluginManager) -> None:
    assert named_profile(pm, "default").id == DEFAULT_ID
    assert named_profile(pm, "active").id == DEFAULT_ID  # no store: the default


def test_the_id_ignores_formatting(tmp_path: Path, pm: pluggy.PluginManager) -> None:
    a = tmp_path / "a.toml"
    a.write_text(default_profile_toml(pm))
    b = tmp_path / "b.toml"
    b.write_text("# reformatted\n" + default_profile_toml(pm).replace(" = ", "="))
    assert named_profile(pm, a).id == named_profile(pm, b).id == DEFAULT_ID


def test_promote_needs_a_promote_decision_for_this_candidate(tmp_path: Path,
        pm: pluggy.PluginManager,
                                                             history: ProfileHistory) -> None:
    clock = ManualClock(start_ms=1_000)
    cand = named_profile(pm, _variant(tmp_path, pm, "cand", "3.0"))
    with pytest.raises(ConfigError, match="refused without a 'promote' decision"):
        promote(pm, history, str(_variant(tmp_path, pm, "cand", "3.0")), decision=None,
                force=False, clock=clock)
    bad = [_decision(tmp_path, decision="reject", candidate=cand.id, baseline=DEFAULT_ID),
           _decision(tmp_path, decision="promote", candidate="0" * 16, baseline=DEFAULT_ID),
           _decision(tmp_path, decision="promote", candidate=cand.id, baseline="1" * 16)]
    for path, why in zip(bad, ("its decision is 'reject'", "its candidate is 0000",
                               "is not the active profile"), strict=True):
        with pytest.raises(ConfigError, match=why):
            promote(pm, history, str(tmp_path / "cand.toml"), decision=path, force=False,
                    clock=clock)
    assert history.activations() == []  # nothing recorded by a refusal
    good = _decision(tmp_path, decision="promote", candidate=cand.id, baseline=DEFAULT_ID)
    act = promote(pm, history, str(tmp_path / "cand.toml"), decision=good, force=False,
                  clock=clock)
    assert (act.seq, act.profile_id, act.action, act.forced) == (1, cand.id, "promote", False)
    assert act.decision_id == decision_id(good) and len(act.decision_id) == 16
    assert act.activated_ms == 1_000
    assert effective_active_id(pm, history) == cand.id
    # the default that was active before is stored, so it can be reverted to
    assert history.get(DEFAULT_ID) is not None


def test_forced_promotion_is_recorded_as_forced(tmp_path: Path,
        pm: pluggy.PluginManager, history: ProfileHistory) -> None:
    clock = ManualClock(start_ms=5)
    act = promote(pm, history, str(_variant(tmp_path, pm, "x", "2.5")), decision=None,
                  force=True, clock=clock)
    assert act.forced and act.reason == "forced" and act.decision_id is None
    with pytest.raises(ConfigError, match="already the active profile"):
        promote(pm, history, act.profile_id, decision=None, force=True, clock=clock)


def test_revert_is_one_step_and_recorded(tmp_path: Path,
        pm: pluggy.PluginManager, history: ProfileHistory) -> None:
    clock = ManualClock(start_ms=10)
    with pytest.raises(ConfigError, match="no profile was ever promoted"):
        revert(pm, history, to=None, clock=clock)
    a = promote(pm, history, str(_variant(tmp_path, pm, "a", "2.5")), decision=None,
                force=True, clock=clock)
    clock.advance(1.0)
    b = promote(pm, history, str(_variant(tmp_path, pm, "b", "3.5")), decision=None,
                force=True, clock=clock)
    clock.advance(1.0)
    r1 = revert(pm, history, to=None, clock=clock)
    assert (r1.profile_id, r1.action) == (a.profile_id, "revert")
    assert r1.reason == f"revert to {a.profile_id} (was {b.profile_id})"
    r2 = revert(pm, history, to=DEFAULT_ID[:6], clock=clock)  # a unique prefix
    assert r2.profile_id == DEFAULT_ID
    assert [x.seq for x in history.activations()] == [1, 2, 3, 4]
    assert [x.activated_ms for x in history.activations()] == [10, 1010, 2010, 2010]
    with pytest.raises(ConfigError, match="already the active profile"):
        revert(pm, history, to=DEFAULT_ID, clock=clock)
    with pytest.raises(ConfigError, match="not a stored profile id"):
        revert(pm, history, to="ffff", clock=clock)


def test_revert_after_the_first_promotion_restores_the_default(tmp_path: Path,
        pm: pluggy.PluginManager,
                                                               history: ProfileHistory) -> None:
    clock = ManualClock(start_ms=1)
    promote(pm, history, str(_variant(tmp_path, pm, "a", "2.5")), decision=None, force=True,
            clock=clock)
    assert revert(pm, history, to=None, clock=clock).profile_id == DEFAULT_ID


def test_repeated_reverts_undo_the_promotions_one_by_one(tmp_path: Path,
        pm: pluggy.PluginManager, history: ProfileHistory) -> None:
    """Promote A, promote B; revert → A, revert → the default, revert → nothing left (before:
    the second revert re-activated B, the profile the first revert had moved away from)."""
    clock = ManualClock(start_ms=100)
    a = promote(pm, history, str(_variant(tmp_path, pm, "a", "2.5")), decision=None,
                force=True, clock=clock).profile_id
    b = promote(pm, history, str(_variant(tmp_path, pm, "b", "3.5")), decision=None,
                force=True, clock=clock).profile_id
    r1 = revert(pm, history, to=None, clock=clock)
    assert (r1.profile_id, r1.reason) == (a, f"revert to {a} (was {b})")
    r2 = revert(pm, history, to=None, clock=clock)
    assert (r2.profile_id, r2.reason) == (DEFAULT_ID, f"revert to {DEFAULT_ID} (was {a})")
    with pytest.raises(ConfigError, match=r"^revert: nothing left to revert: every promotion "
                       rf"has been undone \(profile {DEFAULT_ID} is active; --to ID"):
        revert(pm, history, to=None, clock=clock)
    assert [(x.action, x.profile_id) for x in history.activations()] == [
        ("promote", a), ("promote", b), ("revert", a), ("revert", DEFAULT_ID)]
    # a new promotion can be undone again
    c = promote(pm, history, str(_variant(tmp_path, pm, "c", "4.5")), decision=None,
                force=True, clock=clock).profile_id
    assert revert(pm, history, to=None, clock=clock).profile_id == DEFAULT_ID != c


def _act(seq: int, profile: str, action: str) -> Activation:
    return Activation(seq, profile, seq, "promote" if action == "promote" else "revert", False,
                      None, "")


def test_undo_stack_by_hand() -> None:
    """The changes a plain revert can still undo, from a hand-written history (D the default)."""
    def undoable(*history: tuple[str, str]) -> list[tuple[int, str]]:
        acts = [_act(i + 1, p, a) for i, (a, p) in enumerate(history)]
        return [(u.activation.seq, u.before) for u in undo_stack(acts, "D")]

    assert undoable() == []
    # promote A, promote B: undo B (back to A), then A (back to D)
    assert undoable(("promote", "A"), ("promote", "B")) == [(1, "D"), (2, "A")]
    # ... revert (→ A) pops B; revert (→ D) pops A; nothing left
    assert undoable(("promote", "A"), ("promote", "B"), ("revert", "A")) == [(1, "D")]
    assert undoable(("promote", "A"), ("promote", "B"), ("revert", "A"),
                    ("revert", "D")) == []
    # --to a profile further back on the path undoes every later change at once
    assert undoable(("promote", "A"), ("promote", "B"), ("promote", "C"),
                    ("revert", "A")) == [(1, "D")]
    # --to a profile off the path is a change of its own: a plain revert comes back from it
    assert undoable(("promote", "A"), ("revert", "X")) == [(1, "D"), (2, "A")]
    # promoting a profile again is a new change (the nearest entry is the one undone)
    assert undoable(("promote", "A"), ("promote", "B"), ("promote", "A"),
                    ("revert", "B")) == [(1, "D"), (2, "A")]
    assert undo_stack([_act(1, "A", "promote")], "D") == [
        Undoable(activation=_act(1, "A", "promote"), before="D")]


def test_store_keeps_the_first_text_of_an_id(tmp_path: Path,
        pm: pluggy.PluginManager, history: ProfileHistory) -> None:
    one = named_profile(pm, "default")
    store_profile(history, one, 1)
    again = tmp_path / "same.toml"
    again.write_text("# same parameters\n" + one.toml)
    stored = store_profile(history, named_profile(pm, again), 2)
    assert (stored.toml, stored.added_ms, stored.source) == (one.toml, 1, "default")


def test_cli_promote_show_history_revert(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch,
                                         pm: pluggy.PluginManager) -> None:
    db = tmp_path / "store.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(db))
    cand = _variant(tmp_path, pm, "cand", "3.0")
    cand_id = named_profile(pm, cand).id
    assert main(["profile", "history"]) == 0
    assert "built-in default profile is active" in capsys.readouterr().out
    assert main(["profile", "promote", str(cand)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused without a 'promote' decision" in err
    ok = _decision(tmp_path, decision="promote", candidate=cand_id, baseline=DEFAULT_ID)
    assert main(["profile", "promote", str(cand), "--decision", str(ok)]) == 0
    assert cand_id in capsys.readouterr().out
    assert main(["profile", "show"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# profile {cand_id}: cand v1 (active)\n")
    assert "spike_multiple = 3.0" in out
    assert main(["profile", "show", "--toml"]) == 0
    assert capsys.readouterr().out == cand.read_text()  # the stored text, exactly
    assert main(["profile", "revert"]) == 0
    assert f"active profile: {DEFAULT_ID}" in capsys.readouterr().out
    assert main(["profile", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert f"promote {cand_id} (cand)" in lines[0] and "gate decision" in lines[0]
    assert lines[1].startswith("*") and f"revert  {DEFAULT_ID} (default)" in lines[1]
    # the same history for a script: one profile_history@1 object
    assert main(["profile", "history", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["active"] == DEFAULT_ID
    assert [(a["seq"], a["action"], a["profileId"], a["name"], a["forced"])
            for a in doc["activations"]] == [(1, "promote", cand_id, "cand", False),
                                             (2, "revert", DEFAULT_ID, "default", False)]
    assert main(["profile", "show", "nope"]) == 2
    assert "not a stored profile id" in capsys.readouterr().err
    # the promotion is undone: nothing left to revert
    assert main(["profile", "revert"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "revert: nothing left to revert" in err


def test_replay_uses_the_active_profile_when_none_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pm: pluggy.PluginManager) -> None:
    db = tmp_path / "store.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(db))
    assert active_profile(db) is None and not db.exists()  # not created by looking
    cand = _variant(tmp_path, pm, "cand", "3.0")
    assert main(["profile", "promote", str(cand), "--force"]) == 0
    active = active_profile(db)
    assert active is not None and active.name == "cand"
    from spxcc_core.cli.runargs import run_profile

    assert run_profile(None) == active
    assert run_profile(cand) == cand  # --profile wins


def test_spxcc_replay_runs_the_active_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              pm: pluggy.PluginManager) -> None:
    import json

    session = tmp_path / "session"
    session.mkdir()
    (session / "trades-2025-12-12.csv").write_text(
        "ticker,conditions,correction,exchange,price,sequence_number,sip_timestamp,size\n"
        "SPY,,0,4,600.0,1,1765549800000000000,100\n")
    (session / "quotes-2025-12-12.csv").write_text(
        "ticker,ask_price,ask_size,bid_price,bid_size,sequence_number,sip_timestamp\n"
        "SPY,600.01,5,599.99,5,1,1765549799000000000\n")
    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "store.sqlite3"))

    def replayed_profile(out: str, *extra: str) -> str:
        assert main(["replay", str(session), "--out", str(tmp_path / out),
                     "--db", str(tmp_path / f"{out}.sqlite3"), *extra]) == 0
        report = json.loads((tmp_path / out / "report.json").read_text())
        return str(report["detection"]["profile"]["hash"])

    assert replayed_profile("before") == DEFAULT_ID
    cand = _variant(tmp_path, pm, "cand", "3.0")
    assert main(["profile", "promote", str(cand), "--force"]) == 0
    cand_id = named_profile(pm, cand).id
    assert replayed_profile("after") == cand_id
    base = tmp_path / "base.toml"
    base.write_text(default_profile_toml(pm))
    assert replayed_profile("named", "--profile", str(base)) == DEFAULT_ID  # --profile wins
    assert main(["profile", "revert"]) == 0
    assert replayed_profile("reverted") == DEFAULT_ID
