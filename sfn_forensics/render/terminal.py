"""Terminal output: verdict first, then path, counts, findings and evidence sources.

Every string that came from AWS goes into rich `Text` objects (never markup strings) after
`escape_control`, so a log line or state name cannot inject colours, links or escapes.
"""

from __future__ import annotations

from typing import Any, TextIO

from sfn_forensics.render.base import escape_control, make_console
from sfn_forensics.report import Report

_VERDICT_STYLE = {
    "healthy": "bold green",
    "degraded": "bold yellow",
    "failed": "bold red",
    "inconclusive": "bold magenta",
}
_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}
_PATH_LIMIT = 40


def render(report: Report, stream: TextIO, *, color: bool = True) -> None:
    console = make_console(stream, color=color, width=None if stream.isatty() else 120)
    _verdict(console, report)
    _execution(console, report)
    _path(console, report)
    _counts(console, report)
    _maps(console, report)
    _embeddings(console, report)
    _findings(console, report)
    _sources(console, report)


def _text(value: Any, style: str = "") -> Any:
    from rich.text import Text

    return Text(escape_control("" if value is None else str(value)), style=style)


def _heading(console: Any, title: str) -> None:
    console.print()
    console.print(_text(title, "bold underline"))


def _verdict(console: Any, report: Report) -> None:
    from rich.text import Text

    status = report.verdict.status
    line = Text("VERDICT: ", style="bold")
    line.append(status.upper(), style=_VERDICT_STYLE.get(status, "bold"))
    line.append("  ")
    line.append(escape_control(report.verdict.summary))
    console.print(line)


def _execution(console: Any, report: Report) -> None:
    execution = report.execution
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    # Fold rather than cut, so an ARN stays whole for copying.
    table.add_column(overflow="fold")
    table.add_row("Execution", _text(execution.get("name") or "unknown"))
    table.add_row("ARN", _text(execution.get("arn") or "unknown"))
    table.add_row("Status", _text(execution.get("status")))
    table.add_row("Started", _text(execution.get("start")))
    table.add_row("Stopped", _text(execution.get("stop")))
    table.add_row("Events", _text(execution.get("event_count")))
    table.add_row("Profile", _text(report.workflow.get("profile") or "none (generic checks)"))
    table.add_row("Path taken", _text(report.workflow.get("path") or "unknown"))
    console.print()
    console.print(table)


def _path(console: Any, report: Report) -> None:
    _heading(console, "States in order")
    names = report.path
    shown = names if len(names) <= _PATH_LIMIT else names[:_PATH_LIMIT]
    console.print(_text(" -> ".join(shown) or "(no states ran)"))
    if len(names) > _PATH_LIMIT:
        console.print(_text(f"... and {len(names) - _PATH_LIMIT} more", "dim"))


def _counts(console: Any, report: Report) -> None:
    from rich.table import Table

    if report.workflow.get("profile") is None:
        return
    _heading(console, "Counts")
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("count")
    table.add_column("value", justify="right")
    table.add_column("source or reason", overflow="fold")
    for name, value in report.counts.items():
        detail = report.count_details.get(name, {})
        shown = "unknown" if value is None else f"{value:,}"
        table.add_row(name, _text(shown), _text(detail.get("source") or detail.get("reason")))
    expected_groups = report.expected.get("groups")
    if expected_groups is not None:
        table.add_row("groups expected", _text(expected_groups), _text("ceil(chunks / group_size)"))
    console.print(table)
    if report.final_merge:
        merge = report.final_merge
        if merge.get("ran") and not merge.get("succeeded"):
            console.print(
                _text(
                    f"Final merge: failed (entered at event {merge.get('entered_event_id')}, "
                    f"{merge.get('retries')} retries): {merge.get('error')}"
                )
            )
        elif merge.get("ran"):
            console.print(
                _text(
                    f"Final merge: ran (event {merge.get('entered_event_id')}), "
                    f"statusCode {merge.get('status_code')}, "
                    f"total_embeddings {merge.get('total_embeddings')}, "
                    f"snapshot_key {merge.get('snapshot_key')}"
                )
            )
        else:
            console.print(_text("Final merge: did not run"))


def _maps(console: Any, report: Report) -> None:
    from rich.table import Table

    if not report.maps:
        return
    _heading(console, "Map states")
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    for column in ("state", "visits", "items", "started", "succeeded", "failed", "aborted"):
        table.add_column(column, justify="left" if column == "state" else "right")
    for summary in report.maps:
        table.add_row(
            _text(summary.state),
            str(summary.visits),
            "unknown" if summary.items is None else str(summary.items),
            str(summary.started),
            str(summary.succeeded),
            str(summary.failed),
            str(summary.aborted),
        )
    console.print(table)


def _embeddings(console: Any, report: Report) -> None:
    from rich.table import Table

    embeddings = report.sections.get("embeddings")
    if not isinstance(embeddings, dict) or not embeddings.get("stages"):
        return
    _heading(console, "Embeddings per stage")
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("stage")
    table.add_column("count", justify="right")
    table.add_column("source or reason", overflow="fold")
    for stage in embeddings["stages"]:
        count = stage.get("count")
        table.add_row(
            _text(stage.get("stage")),
            _text("unknown" if count is None else f"{count:,}"),
            _text(stage.get("source") or stage.get("reason")),
        )
    console.print(table)
    lost = embeddings.get("lost")
    if lost is not None:
        share = embeddings.get("lost_share")
        share_text = f" ({share:.1%})" if isinstance(share, float) else ""
        console.print(
            _text(
                f"Expected {embeddings.get('expected'):,}, final {embeddings.get('final'):,}, "
                f"lost {lost:,}{share_text}"
            )
        )


def _findings(console: Any, report: Report) -> None:
    from rich.text import Text

    _heading(console, f"Findings ({len(report.findings)})")
    if not report.findings:
        console.print(_text("No findings."))
    for finding in report.findings:
        line = Text()
        line.append(f"[{finding.severity.upper()}] ", style=_SEVERITY_STYLE[finding.severity])
        line.append(finding.code, style="bold")
        line.append("  ")
        line.append(escape_control(finding.title))
        console.print()
        console.print(line)
        if finding.state:
            console.print(_text(f"  state: {finding.state}"))
        for key, value in finding.evidence.items():
            if _is_log_lines(value):
                console.print(_text(f"  {key}:", "dim"))
                for line in value:
                    console.print(_text(f"    {_log_line(line)}", "dim"))
                continue
            console.print(_text(f"  {key}: {_short(value)}", "dim"))
        for step in finding.next_steps:
            console.print(_text(f"  next: {step}"))


def _is_log_lines(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "message" in item for item in value)
    )


def _log_line(line: dict[str, Any]) -> str:
    where = line.get("state") or "?"
    if line.get("visit_entered_event_id") is not None:
        where += f" @ event {line['visit_entered_event_id']}"
    level = line.get("level") or ""
    return (
        f"{line.get('timestamp')} {line.get('log_group')} [{where}] {level} {line.get('message')}"
    )


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, (dict, list)):
        import orjson

        text = orjson.dumps(value, default=str).decode()
        return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _sources(console: Any, report: Report) -> None:
    _heading(console, "Evidence sources")
    for name, status in report.evidence_sources.items():
        console.print(_text(f"  {name}: {status}"))
    for check in report.checks:
        if check.status == "inconclusive":
            console.print(_text(f"  check {check.check} inconclusive: {check.reason}", "magenta"))
