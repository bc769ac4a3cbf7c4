"""Start-up of ``spxcc COMMAND``: only that command's module is imported, plugins defer their
heavy imports, and a flat file's reader does not wait for numba (docs/performance.md)."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from spxcc_core import cli
from spxcc_core.cli import main
from spxcc_core.cli.parser import SafeArgumentParser

_REPO = Path(__file__).resolve().parent.parent


def _in_fresh_process(code: str) -> object:
    """The JSON value ``code`` prints on its last line, run in a new interpreter."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=_REPO, capture_output=True,
                          text=True, check=True, timeout=120)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", sorted(cli._COMMAND_OF))
def test_each_listed_module_registers_exactly_the_command_the_table_names(module: str) -> None:
    assert module in cli._COMMAND_MODULES
    parser = SafeArgumentParser(prog="spxcc")
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(module).register(sub)
    assert set(sub.choices) == {cli._COMMAND_OF[module]}


def test_a_named_command_builds_only_its_own_parser() -> None:
    sub = next(a for a in cli.build_parser("size")._actions
               if isinstance(a, argparse._SubParsersAction))
    others = set(cli._COMMAND_OF.values()) - {"size"}
    assert "size" in sub.choices
    assert not others & set(sub.choices)  # (modules missing from the table register always)


@pytest.mark.parametrize("argv", [[], ["nosuch"], ["--version"]])
def test_no_command_or_an_unknown_one_builds_the_full_parser(
        argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str | None] = []
    real = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda command=None: built.append(command)
                        or real(command))
    with pytest.raises(SystemExit):
        main(argv)
    sub = next(a for a in real(built[0])._actions if isinstance(a, argparse._SubParsersAction))
    assert set(cli._COMMAND_OF.values()) <= set(sub.choices)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in cli._COMMAND_OF.values():
        assert f"    {command} " in out or f"    {command}\n" in out, command


def test_bars_imports_no_other_command_and_no_broker_module(tmp_path: Path) -> None:
    trades = tmp_path / "t.csv"
    trades.write_text("ticker,conditions,correction,exchange,id,participant_timestamp,price,"
                      "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp\n"
                      "SPY,,0,11,1,1765549800030334157,689.53,1,1765549800031000000,100,2,0,0\n")
    out = tmp_path / "bars.jsonl"
    loaded = _in_fresh_process(
        "import json, sys\n"
        "from spxcc_core.cli import main\n"
        f"assert main(['bars', '--trades', {str(trades)!r}, '--out', {str(out)!r}]) == 0\n"
        "print(json.dumps(sorted(sys.modules)))")
    assert isinstance(loaded, list)
    unlisted = {m for m in cli._COMMAND_MODULES if m not in cli._COMMAND_OF}
    commands = {m for m in loaded if m.startswith("spxcc_core.cli.")} - unlisted
    assert commands == {"spxcc_core.cli.bars", "spxcc_core.cli.parser"}
    assert not {"httpx", "spxcc_tradier.adapter", "spxcc_paper.adapter", "spxcc_core.detect",
                "spxcc_gamma.provider", "spxcc_detectors.vwap"} & set(loaded)
    assert out.read_text().count("\n") == 1  # and the one bar was written


def test_broker_plugins_still_provide_their_classes_on_first_use() -> None:
    found = _in_fresh_process(
        "import json, sys\n"
        "import spxcc_tradier, spxcc_paper\n"
        "before = 'spxcc_tradier.adapter' in sys.modules or 'spxcc_paper.adapter' in sys.modules\n"
        "from spxcc_tradier import TradierAdapter\n"
        "from spxcc_paper import PaperBroker\n"
        "print(json.dumps([before, spxcc_tradier.spxcc_register_brokers() == [TradierAdapter],\n"
        "                  spxcc_paper.spxcc_register_brokers() == [PaperBroker],\n"
        "                  TradierAdapter.__module__, PaperBroker.__module__]))")
    assert found == [False, True, True, "spxcc_tradier.adapter", "spxcc_paper.adapter"]


def test_opening_a_flat_file_does_not_wait_for_numba() -> None:
    """The readers' modules import without numba (the parser compiles on first use), so a
    file starts inflating while numba loads."""
    loaded = _in_fresh_process(
        "import json, sys\n"
        "import spxcc_core.massive.flatfile\n"
        "print(json.dumps('numba' in sys.modules))")
    assert loaded is False


def test_bars_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    import gc

    trades = tmp_path / "t.csv"
    trades.write_text("ticker,sip_timestamp,price,size,conditions,correction\n"
                      "SPY,1765549800031000000,689.53,100,,0\n")
    assert gc.isenabled()
    assert main(["bars", "--trades", str(trades), "--out", str(tmp_path / "a.jsonl")]) == 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert main(["bars", "--trades", str(trades), "--out", str(tmp_path / "b.jsonl")]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(("argv", "code"), [(["--version"], 0), (["size"], 2),
                                             (["bars", "--out", "x"], 2)])
def test_the_console_entry_exits_with_the_command_s_code(argv: list[str], code: int) -> None:
    script = "from spxcc_core.cli import console_main; console_main()"  # what spxcc runs
    proc = subprocess.run([sys.executable, "-c", script, *argv], cwd=_REPO,
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
