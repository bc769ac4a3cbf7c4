"""``spxcc gates report``: a gate run's ``decision.json`` as a page people read.

:func:`html_report` renders one self-contained HTML page — no script, no stylesheet or font
from the network, charts as inline SVG (:mod:`spxcc_core.gates.svg`): the decision in the
first line (the page's first heading), the reasons, the KPI table (both profiles and the
delta with their intervals, tolerance and verdict), one interval chart per KPI (candidate vs
baseline, and the delta against −tolerance), the absolute targets, the block-reason mix, the
sessions, and the rollback command. :func:`markdown_report` gives the same facts as Markdown
for CI logs. Both are pure functions of their inputs: the same record gives the same bytes.

**Slippage.** A gate run that executed (trade source ``execution``) keeps each profile's
per-fill slippage records beside ``decision.json``
(:data:`~spxcc_core.gates.runner.SLIPPAGE_FILES`, read by :func:`read_slippage`); the page then
shows their distribution — a histogram per unit ($ per contract and ticks, candidate vs
baseline on shared bins, :func:`~spxcc_core.gates.svg.histogram_chart`) and a table of count,
median, p90 and mean (:func:`slippage_summary`) — and the Markdown the table. With the
``setups`` trade source there is no slippage, and both say so and why.

The records are not tied to the decision by any field, so :func:`check_slippage` checks that
they can belong to it before they are shown (a file copied from another run is refused, one
line naming it): every record is of one of the decision's sessions (the New York date of its
``atMs``), and per session and profile the trades entered in the records (distinct setups —
intents without a setup — with a ``buy_to_open`` fill) are at most the trades the decision
counts. An executed trade is a setup whose entry filled (:mod:`spxcc_core.execute.engine`), so
each entered trade in the records is one of them; the counts need not be equal, because a fill
whose slippage cannot be measured (``slippage_unavailable``: no or a crossed arrival quote, ...)
has no record. Entry *fills* are not compared: a partly filled entry has several.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

import attrs
import msgspec

from spxcc_core.contracts.gates import Estimate, KpiComparison, ReleaseDecision
from spxcc_core.contracts.slippage import SlippageRecord
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.gates.runner import DECISION_FILE, SLIPPAGE_FILES
from spxcc_core.gates.svg import IntervalRow, bar_chart, histogram_chart, interval_chart
from spxcc_core.gates.trades import EXECUTION_SOURCE
from spxcc_core.outputs import atomic_write, check_paths

__all__ = ["GateSlippage", "SlippageSummary", "check_slippage", "entered_trades", "html_report",
           "markdown_report", "read_decision", "read_slippage", "report_inputs", "slippage_bins", "slippage_summary", "write_html"]

#: Narrowest histogram bin: $2.50 per contract (half a 0.05 tick × 100) and half a tick.
DOLLAR_BIN = 2.5
TICK_BIN = 0.5
#: Most bins a slippage histogram gets: the bin width doubles until the fills fit.
MAX_SLIPPAGE_BINS = 30
_slippage_decoder = msgspec.json.Decoder(SlippageRecord)

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


def _run_folder(run_dir: str | os.PathLike[str]) -> Path:
    """The folder of a gate run given as its folder or as its decision file."""
    p = Path(run_dir)
    return p if p.is_dir() else p.parent


def report_inputs(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Every file the report of ``run_dir`` (a gate run folder or its decision file) reads:
    the decision record and the slippage records that exist — the paths an output must not
    write over."""
    p = Path(run_dir)
    folder = _run_folder(p)
    files = [p / DECISION_FILE if p.is_dir() else p]
    files += [folder / name for name in SLIPPAGE_FILES.values() if (folder / name).exists()]
    return files


@attrs.frozen
class GateSlippage:
    """The per-fill slippage records of an executed gate run: ``candidate`` and
    ``baseline``, sessions in date order."""

    candidate: tuple[SlippageRecord, ...]
    baseline: tuple[SlippageRecord, ...]


def _read_records(path: Path) -> tuple[SlippageRecord, ...]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    out = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_slippage_decoder.decode(line))
        except msgspec.DecodeError as exc:
            raise InputError(str(path), f"line {n}: not a slippage_record@1 ({exc})") \
                from None
    return tuple(out)


def read_slippage(run_dir: str | os.PathLike[str]) -> GateSlippage | None:
    """Both profiles' slippage records of a gate run (its folder, or its decision file: the
    records are read beside it); None when the folder holds neither file (a run that did not
    execute, or one written before gate runs kept them).

    :raises InputError: one of the two files is missing, unreadable, or holds a line that is
        not a ``slippage_record@1`` (named with its line number).
    """
    folder = _run_folder(run_dir)
    paths = {who: folder / name for who, name in SLIPPAGE_FILES.items()}
    present = {who: p.exists() for who, p in paths.items()}
    if not any(present.values()):
        return None
    for who, p in paths.items():
        if not present[who]:
            other = next(q for w, q in paths.items() if w != who)
            raise InputError(str(p), f"missing (the {who}'s slippage records; {other.name} "
                                     "is there): not a complete gate run folder")
    return GateSlippage(candidate=_read_records(paths["candidate"]),
                        baseline=_read_records(paths["baseline"]))


def entered_trades(records: Sequence[SlippageRecord]) -> dict[str, int]:
    """Trades entered in ``records`` per session date (the New York date of ``at_ms``): the
    distinct setups (an intent without a setup counts as its own) with a ``buy_to_open``
    fill, dates sorted."""
    from spxcc_core.session import ny_date_of_ms

    seen: dict[str, set[str]] = {}
    for r in records:
        if r.side == "buy_to_open":
            key = r.setup_id if r.setup_id is not None else f"intent:{r.intent_id}"
            seen.setdefault(ny_date_of_ms(r.at_ms).isoformat(), set()).add(key)
    return {day: len(keys) for day, keys in sorted(seen.items())}


def check_slippage(decision: ReleaseDecision, slippage: GateSlippage,
                   run_dir: str | os.PathLike[str]) -> None:
    """Refuse slippage records that cannot belong to ``decision`` (module docstring): a
    record dated on a day that is none of the decision's sessions, or a session with more
    trades entered in a profile's records than the decision counts for that profile.

    :param run_dir: the gate run (folder or decision file), to name the file.
    :raises InputError: names the file, the date and both counts.
    """
    from spxcc_core.session import ny_date_of_ms

    folder = _run_folder(run_dir)
    per_day: dict[str, Mapping[str, int]] = {
        s.session_date: {"candidate": s.candidate_trades, "baseline": s.baseline_trades}
        for s in decision.sessions}
    for who, records in (("candidate", slippage.candidate), ("baseline", slippage.baseline)):
        path = folder / SLIPPAGE_FILES[who]
        for r in records:
            day = ny_date_of_ms(r.at_ms).isoformat()
            if day not in per_day:
                raise InputError(str(path), f"fill {r.fill_id} is of {day}, none of the "
                                            f"decision's sessions: not this run's records")
        for day, entered in entered_trades(records).items():
            counted = per_day[day][who]
            if entered > counted:
                raise InputError(str(path), f"{entered} trades entered on {day}, but the "
                                            f"decision counts {counted} for the {who} that "
                                            "day: not this run's records")


@attrs.frozen
class SlippageSummary:
    """One profile's per-fill slippage (against the arrival mid; positive is a cost):
    ``fills`` measured fills, and the median, p90 and mean in dollars per contract
    (``*_dollars``) and in ticks (``*_ticks``) — None without fills. Quantiles are linear
    between order statistics (``h = (n − 1) q``), as in ``spxcc slippage report``; every fill
    counts once, whatever its quantity."""

    fills: int
    median_dollars: float | None
    p90_dollars: float | None
    mean_dollars: float | None
    median_ticks: float | None
    p90_ticks: float | None
    mean_ticks: float | None


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    if lo + 1 >= len(ordered):
        return ordered[-1]
    return ordered[lo] + (h - lo) * (ordered[lo + 1] - ordered[lo])


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def slippage_summary(records: Sequence[SlippageRecord]) -> SlippageSummary:
    """Count, median, p90 and mean of ``records``' slippage per fill (see
    :class:`SlippageSummary`)."""
    dollars = sorted(r.slippage_dollars for r in records)
    ticks = sorted(r.slippage_ticks for r in records)
    return SlippageSummary(
        fills=len(records), median_dollars=_quantile(dollars, 0.5),
        p90_dollars=_quantile(dollars, 0.9), mean_dollars=_mean(dollars),
        median_ticks=_quantile(ticks, 0.5), p90_ticks=_quantile(ticks, 0.9),
        mean_ticks=_mean(ticks))


def slippage_bins(values: Sequence[Sequence[float]], width: float
                  ) -> tuple[tuple[float, ...], list[tuple[int, ...]]]:
    """Shared histogram bins for several series of values: edges on multiples of the bin
    width covering every value (the width starts at ``width`` and doubles until at most
    :data:`MAX_SLIPPAGE_BINS` bins), and each series' counts per bin ``[edges[i],
    edges[i + 1])``. No value at all: ``()`` and empty counts.

    :raises ValueError: ``width`` not > 0.
    """
    if not width > 0:
        raise ValueError(f"bin width must be > 0, got {width!r}")
    flat = [v for series in values for v in series]
    if not flat:
        return (), [() for _ in values]
    while True:
        lo = math.floor(round(min(flat) / width, 9))
        hi = math.floor(round(max(flat) / width, 9)) + 1
        if hi - lo <= MAX_SLIPPAGE_BINS:
            break
        width *= 2.0
    edges = tuple(round(k * width, 9) + 0.0 for k in range(lo, hi + 1))
    counts = []
    for series in values:
        c = [0] * (hi - lo)
        for v in series:
            c[min(max(math.floor(round(v / width, 9)) - lo, 0), hi - lo - 1)] += 1
        counts.append(tuple(c))
    return edges, counts


def _money(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.2f}"


def _slippage_rows(s: GateSlippage) -> list[tuple[str, SlippageSummary]]:
    return [("candidate", slippage_summary(s.candidate)),
            ("baseline", slippage_summary(s.baseline))]


def _slippage_html(d: ReleaseDecision, s: GateSlippage | None) -> str:
    """The page's slippage section: the distribution, or why there is none."""
    if d.trade_source != EXECUTION_SOURCE or s is None:
        return f'<p class="muted" id="slippage-note">{escape(_slippage_note(d, s))}</p>'
    rows = "\n".join(
        f"<tr><td>{who}</td><td>{m.fills}</td><td>{_money(m.median_dollars)}</td>"
        f"<td>{_money(m.p90_dollars)}</td><td>{_money(m.mean_dollars)}</td>"
        f"<td>{_money(m.median_ticks)}</td><td>{_money(m.p90_ticks)}</td>"
        f"<td>{_money(m.mean_ticks)}</td></tr>" for who, m in _slippage_rows(s))
    charts = []
    for unit, width, field in (("$ per contract", DOLLAR_BIN, "slippage_dollars"),
                               ("ticks", TICK_BIN, "slippage_ticks")):
        series = [[getattr(r, field) for r in s.candidate],
                  [getattr(r, field) for r in s.baseline]]
        edges, counts = slippage_bins(series, width)
        labels = [f"{who} ({len(v)} fills)" for who, v in zip(("candidate", "baseline"), series,
                                                               strict=True)]
        charts.append(histogram_chart(f"Slippage per fill ({unit})", edges,
                                      dict(zip(labels, counts, strict=True)), unit=unit))
    return f"""<p class="muted" id="slippage-note">{escape(_slippage_note(d, s))}</p>
<table id="slippage-summary"><tr><th>profile</th><th>fills</th><th>median $/contract</th>\
<th>p90 $/contract</th><th>mean $/contract</th><th>median ticks</th><th>p90 ticks</th>\
<th>mean ticks</th></tr>
{rows}</table>
<div class="charts" id="slippage-charts">
{chr(10).join(charts)}
</div>"""


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


def html_report(d: ReleaseDecision, slippage: GateSlippage | None = None) -> str:
    """The self-contained HTML page of a decision and, for an executed run, its slippage
    records (see the module docstring)."""
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
<h2 id="slippage">Slippage</h2>
{_slippage_html(d, slippage)}
<h2>Sessions</h2>
<table id="sessions"><tr><th>date</th><th>source</th><th>candidate trades</th>\
<th>baseline trades</th></tr>
{sessions}</table>
</body></html>
"""


def markdown_report(d: ReleaseDecision, slippage: GateSlippage | None = None) -> str:
    """The decision as Markdown (for CI logs): decision first, reasons, KPI table, targets,
    block reasons, slippage per fill (the figures, or why there are none), rollback
    command."""
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
    lines += ["", f"Slippage: {_slippage_note(d, slippage)}"]
    if d.trade_source == EXECUTION_SOURCE and slippage is not None:
        lines += ["", "| slippage per fill | fills | median $/contract | p90 $/contract | "
                      "mean $/contract | median ticks | p90 ticks | mean ticks |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {who} | {m.fills} | {_money(m.median_dollars)} | "
                  f"{_money(m.p90_dollars)} | {_money(m.mean_dollars)} | "
                  f"{_money(m.median_ticks)} | {_money(m.p90_ticks)} | "
                  f"{_money(m.mean_ticks)} |" for who, m in _slippage_rows(slippage)]
    lines += ["", f"Rollback: `{d.rollback_command}`", ""]
    return "\n".join(lines)


def _is_report(path: Path) -> bool:
    """True when ``path`` is an HTML page this module wrote (an earlier report)."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"<!DOCTYPE html>") and b"<title>spxcc gates: " in head


def write_html(d: ReleaseDecision, path: str | os.PathLike[str],
               inputs: Sequence[str | os.PathLike[str]] | None = None,
               slippage: GateSlippage | None = None,
               run_dir: str | os.PathLike[str] | None = None) -> None:
    """Write :func:`html_report` to ``path`` (atomically), refusing a path that is, contains
    or lies inside one of ``inputs`` (the files the report read, :func:`report_inputs`), and
    — inside ``run_dir`` (the gate run's folder, or its decision file) — a path that is the
    folder itself or an existing file other than an earlier report: the report never writes
    over anything of its run.

    :raises ConfigError: the path overlaps an input, is an existing file of the run folder,
        or cannot be written.
    """
    out = Path(path)
    check_paths([("--html", out)], [("input", p) for p in inputs or []])
    if run_dir is not None:
        folder = Path(os.path.realpath(_run_folder(run_dir)))
        real = Path(os.path.realpath(out))
        if real == folder or (real.is_relative_to(folder) and real.exists()
                              and not _is_report(real)):
            what = "is the run folder" if real == folder else \
                "is a file of the run folder that is not an earlier report"
            raise ConfigError(f"--html {out}: {what} {_run_folder(run_dir)}; refusing to "
                              "write over it (choose another output path)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--html {out}: cannot create its folder ({exc.strerror or exc})") \
            from None
    atomic_write({out: html_report(d, slippage).encode("utf-8")})


def _slippage_note(d: ReleaseDecision, s: GateSlippage | None) -> str:
    """What the R of the KPIs includes, by trade source, and where the fills' slippage is."""
    if d.trade_source == EXECUTION_SOURCE:
        if s is None:
            return ("Trades are executed round trips (trade source execution): R is after "
                    "slippage, at the actual fill prices; the run folder holds no per-fill "
                    f"slippage records ({', '.join(SLIPPAGE_FILES.values())}), so there is no "
                    "distribution to show: run the gate again to have them.")
        return ("Trades are executed round trips on the paper broker (trade source "
                "execution): R is after slippage, at the actual fill prices. Slippage per "
                "fill against the arrival mid, positive is a cost, every fill of every "
                "session counted once (entries and exits; "
                f"{', '.join(SLIPPAGE_FILES.values())}).")
    return (f"No slippage: trades come from the setups' own outcomes (trade source "
            f"{d.trade_source}), gross of costs; run the gate with --execute paper for R after "
            "slippage and its distribution.")
