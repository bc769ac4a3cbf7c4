"""``spxcc gates report``: a gate run's ``decision.json`` as a page people read.

:func:`html_report` renders one self-contained HTML page — no script, no stylesheet or font
from the network, charts as inline SVG (:mod:`spxcc_core.gates.svg`): the decision in the
first line (the page's first heading), the reasons, the KPI table (both profiles and the
delta with their intervals, tolerance and verdict), one interval chart per KPI (candidate vs
baseline, and the delta against −tolerance), the absolute targets, the block-reason mix, the
sessions, and the rollback command. :func:`markdown_report` gives the same facts as Markdown
for CI logs. Both are pure functions of the decision: the same record gives the same bytes.

The slippage distribution belongs on this page once trades carry R after slippage; with the
``setups`` trade source there is none, and the page says so.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

import msgspec

from spxcc_core.contracts.gates import Estimate, KpiComparison, ReleaseDecision
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.gates.runner import DECISION_FILE
from spxcc_core.gates.svg import IntervalRow, bar_chart, interval_chart
from spxcc_core.outputs import atomic_write, check_paths

__all__ = ["html_report", "markdown_report", "read_decision", "write_html"]

_TITLES = {"promote": "PROMOTE", "reject": "REJECT",
           "insufficient_evidence": "INSUFFICIENT EVIDENCE"}
_COLORS = {"promote": "#1a7f37", "reject": "#cf222e", "insufficient_evidence": "#9a6700"}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1f2328;max-width:1180px}
h1{font-size:26px;margin:0 0 6px} h2{font-size:18px;margin:26px 0 8px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #d0d7de;padding:4px 8px;
text-align:right} th{background:#f6f8fa} td:first-child,th:first-child{text-align:left}
code,pre{background:#f6f8fa;padding:2px 5px;border-radius:4px;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:12px} .muted{color:#57606a}
"""


def read_decision(run_dir: str | os.PathLike[str]) -> ReleaseDecision:
    """The ``release_decision@1`` of a gate run folder (or of the file itself).

    :raises InputError: missing, unreadable or not a decision record.
    """
    p = Path(run_dir)
    path = p / DECISION_FILE if p.is_dir() else p
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    try:
        return msgspec.json.decode(data, type=ReleaseDecision)
    except msgspec.DecodeError as exc:
        raise InputError(str(path), f"not a release_decision@1 record ({exc})") from None


def _num(v: float | None, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if unit == "fraction":
        return f"{v:.1%}"
    return f"{v:.3g}"


def _est(e: Estimate, unit: str) -> str:
    if e.low is None or e.high is None:
        return f"{_num(e.value, unit)} [n/a]"
    return f"{_num(e.value, unit)} [{_num(e.low, unit)}, {_num(e.high, unit)}]"


def _delta_ref(k: KpiComparison) -> float | None:
    if k.tolerance is None:
        return None
    return -k.tolerance if k.higher_is_better else k.tolerance


def _charts(d: ReleaseDecision) -> list[str]:
    out = []
    for k in d.kpis:
        ref = _delta_ref(k)
        out.append(interval_chart(
            f"{k.kpi} ({k.unit})",
            [IntervalRow("candidate", k.candidate.value, k.candidate.low, k.candidate.high, 0),
             IntervalRow("baseline", k.baseline.value, k.baseline.low, k.baseline.high, 1)]))
        out.append(interval_chart(
            f"{k.kpi}: candidate − baseline",
            [IntervalRow("delta", k.delta.value, k.delta.low, k.delta.high, 0)],
            reference=ref, reference_label="" if ref is None else f"tolerance {ref:+g}",
            zero=True))
    return out


def html_report(d: ReleaseDecision) -> str:
    """The self-contained HTML page of a decision (see the module docstring)."""
    title = _TITLES[d.decision]
    rows = "\n".join(
        f"<tr><td>{escape(k.kpi)}</td><td>{escape(k.unit)}</td>"
        f"<td>{_est(k.candidate, k.unit)}</td><td>{_est(k.baseline, k.unit)}</td>"
        f"<td>{_est(k.delta, k.unit)}</td><td>{_num(k.tolerance, k.unit)}</td>"
        f"<td>{escape(k.verdict)}</td></tr>" for k in d.kpis)
    targets = "\n".join(
        f"<tr><td>{escape(t.kpi)}</td><td>{_num(t.target)}</td>"
        f"<td>{_est(t.candidate, 'fraction' if t.kpi == 't1_hit_rate' else '')}</td>"
        f"<td>{escape(t.status)}</td></tr>" for t in d.targets)
    sessions = "\n".join(
        f"<tr><td>{escape(s.session_date)}</td><td>{escape(s.source)}</td>"
        f"<td>{s.candidate_trades}</td><td>{s.baseline_trades}</td></tr>" for s in d.sessions)
    reasons = "\n".join(f"<li><code>{escape(r.code)}</code> {escape(r.message)}</li>"
                        for r in d.reasons)
    tp, ev = d.throughput, d.evidence
    charts = "\n".join(_charts(d))
    blocks = bar_chart("Block reasons (failed gate checks)",
                       {"candidate": d.block_reasons.get("candidate", {}),
                        "baseline": d.block_reasons.get("baseline", {})})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>spxcc gates: {title} {escape(d.candidate.id)}</title>
<style>{_CSS}</style></head>
<body>
<h1 id="decision" style="color:{_COLORS[d.decision]}">Decision: {title} — candidate \
{escape(d.candidate.name)} <code>{escape(d.candidate.id)}</code> vs baseline \
{escape(d.baseline.name)} <code>{escape(d.baseline.id)}</code></h1>
<p class="muted">{ev.sessions} sessions, {d.resamples} bootstrap resamples over whole \
sessions, seed {d.seed}, {d.confidence:.0%} intervals; trade source <code>\
{escape(d.trade_source)}</code>; spxcc {escape(d.code_version)}</p>
<ul id="reasons">{reasons}</ul>
<h2>Rollback</h2>
<p>After promoting the candidate, this restores the baseline: \
<code id="rollback">{escape(d.rollback_command)}</code></p>
<h2>KPIs</h2>
<table id="kpis"><tr><th>KPI</th><th>unit</th><th>candidate</th><th>baseline</th>\
<th>delta (cand − base)</th><th>tolerance</th><th>verdict</th></tr>
{rows}</table>
<p>Throughput guardrail: candidate {tp.candidate_per_session:.3g} trades/session vs \
{tp.floor_fraction:g} × baseline {tp.baseline_per_session:.3g} — \
{"holds" if tp.holds else "fails"}. Evidence: candidate {ev.candidate_trades} trades, \
baseline {ev.baseline_trades} trades, {ev.sessions} sessions (need {ev.min_trades} trades \
each, {ev.min_sessions} sessions) — {"enough" if ev.enough else "not enough"}.</p>
<h2>Confidence intervals</h2>
<div class="charts" id="charts">
{charts}
</div>
<h2>Targets (reported, not blockers)</h2>
<table id="targets"><tr><th>KPI</th><th>target</th><th>candidate</th><th>status</th></tr>
{targets}</table>
<h2>Block-reason mix</h2>
<div class="charts">{blocks}</div>
<h2>Slippage</h2>
<p class="muted">{escape(_slippage_note(d.trade_source))}</p>
<h2>Sessions</h2>
<table id="sessions"><tr><th>date</th><th>source</th><th>candidate trades</th>\
<th>baseline trades</th></tr>
{sessions}</table>
</body></html>
"""


def markdown_report(d: ReleaseDecision) -> str:
    """The decision as Markdown (for CI logs): decision first, reasons, KPI table, targets,
    block reasons, rollback command."""
    lines = [f"# Decision: {_TITLES[d.decision]} — candidate {d.candidate.name} "
             f"`{d.candidate.id}` vs baseline {d.baseline.name} `{d.baseline.id}`", "",
             f"{d.evidence.sessions} sessions, {d.resamples} resamples, seed {d.seed}, "
             f"{d.confidence:.0%} intervals, trade source `{d.trade_source}`.", ""]
    lines += [f"- `{r.code}` {r.message}" for r in d.reasons]
    lines += ["", "| KPI | candidate | baseline | delta | tolerance | verdict |",
              "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {k.kpi} | {_est(k.candidate, k.unit)} | {_est(k.baseline, k.unit)} | "
              f"{_est(k.delta, k.unit)} | {_num(k.tolerance, k.unit)} | {k.verdict} |"
              for k in d.kpis]
    lines += ["", "| target | candidate | status |", "| --- | --- | --- |"]
    lines += [f"| {t.kpi} >= {_num(t.target)} | "
              f"{_est(t.candidate, 'fraction' if t.kpi == 't1_hit_rate' else '')} | "
              f"{t.status} |" for t in d.targets]
    mix = d.block_reasons
    gates = sorted({g for counts in mix.values() for g in counts})
    if gates:
        lines += ["", "| gate | candidate blocks | baseline blocks |", "| --- | --- | --- |"]
        lines += [f"| {g} | {mix.get('candidate', {}).get(g, 0)} | "
                  f"{mix.get('baseline', {}).get(g, 0)} |" for g in gates]
    lines += ["", f"Rollback: `{d.rollback_command}`", ""]
    return "\n".join(lines)


def write_html(d: ReleaseDecision, path: str | os.PathLike[str],
               inputs: list[str | os.PathLike[str]] | None = None) -> None:
    """Write :func:`html_report` to ``path`` (atomically), refusing a path that is or lies
    inside one of ``inputs``.

    :raises ConfigError: the path overlaps an input or cannot be written.
    """
    out = Path(path)
    check_paths([("--html", out)], [("run folder", p) for p in inputs or []])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--html {out}: cannot create its folder ({exc.strerror or exc})") \
            from None
    atomic_write({out: html_report(d).encode("utf-8")})


def _slippage_note(trade_source: str) -> str:
    """What the R of the KPIs includes, by trade source."""
    if trade_source == "execution":
        return ("Trades are executed round trips (trade source execution): R is after "
                "slippage, at the actual fill prices. The fills' slippage is in each replay's "
                "slippage.jsonl and in `spxcc slippage report`.")
    return (f"No slippage: trades come from the setups' own outcomes (trade source "
            f"{trade_source}), gross of costs; run the gate with --execute paper for R after "
            "slippage.")
