"""Markdown output, for pasting into tickets and incident notes."""

from __future__ import annotations

from typing import Any, TextIO

from sfn_forensics.render.base import escape_control
from sfn_forensics.report import Report

_MARKDOWN_SPECIAL = str.maketrans({ch: f"\\{ch}" for ch in "\\`*_[]<>|#"})


def render(report: Report, stream: TextIO, *, color: bool = False) -> None:
    stream.write("\n".join(lines(report)))
    stream.write("\n")


def _md(value: Any) -> str:
    """Escape text from AWS so it cannot add markup, links or HTML to the document."""
    return escape_control(str(value)).translate(_MARKDOWN_SPECIAL)


def _plain(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value, default=str).decode()
    return str(value)


def lines(report: Report) -> list[str]:
    execution = report.execution
    verdict = report.verdict
    out = [
        f"# Execution {_md(execution.get('name') or execution.get('arn') or 'unknown')}",
        "",
        f"**Verdict: {verdict.status.upper()}**: {_md(verdict.summary)}",
        "",
        f"- ARN: `{escape_control(str(execution.get('arn')))}`",
        f"- Status: {_md(execution.get('status'))}",
        f"- Started: {_md(execution.get('start'))}; stopped: {_md(execution.get('stop'))}",
        f"- Profile: {_md(report.workflow.get('profile'))}; path: "
        f"{_md(report.workflow.get('path'))}",
        "",
        "## Path",
        "",
        " → ".join(_md(name) for name in report.path) or "(no states ran)",
        "",
        "## Counts",
        "",
        "| count | value |",
        "|---|---:|",
    ]
    for name, value in report.counts.items():
        out.append(f"| {name} | {'unknown' if value is None else value} |")
    if report.maps:
        out += [
            "",
            "## Map states",
            "",
            "| state | visits | items | started | succeeded | failed | aborted |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for summary in report.maps:
            out.append(
                f"| {_md(summary.state)} | {summary.visits} | {summary.items} | {summary.started} "
                f"| {summary.succeeded} | {summary.failed} | {summary.aborted} |"
            )
    for title, section in _extra_sections(report):
        out += ["", f"## {title}", "", *section]
    out += ["", "## Findings", ""]
    if not report.findings:
        out.append("No findings.")
    for finding in report.findings:
        out.append(f"### {finding.severity.upper()} {finding.code}: {_md(finding.title)}")
        out.append("")
        if finding.state:
            out.append(f"- State: {_md(finding.state)}")
        for key, value in finding.evidence.items():
            if (
                isinstance(value, list)
                and value
                and all(isinstance(item, dict) and "message" in item for item in value)
            ):
                out.append(f"- {key}:")
                for line in value:
                    out.append(
                        f"  - {_md(line.get('timestamp'))} {_md(line.get('log_group'))}: "
                        f"{_md(line.get('message'))}"
                    )
                continue
            out.append(f"- {key}: {_md(_plain(value))}")
        if finding.next_steps:
            out.append("")
            out.append("Next steps:")
            out.extend(f"1. {_md(step)}" for step in finding.next_steps)
        out.append("")
    out += ["## Evidence sources", ""]
    out.extend(f"- {name}: {_md(status)}" for name, status in report.evidence_sources.items())
    inconclusive = [check for check in report.checks if check.status == "inconclusive"]
    if inconclusive:
        out += ["", "## Inconclusive checks", ""]
        out.extend(f"- {check.check}: {_md(check.reason)}" for check in inconclusive)
    return out


def _extra_sections(report: Report) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    embeddings = report.sections.get("embeddings")
    if isinstance(embeddings, dict) and embeddings.get("stages") is not None:
        rows = ["| stage | count | source |", "|---|---:|---|"]
        for stage in embeddings["stages"]:
            count = stage.get("count")
            shown = "unknown" if count is None else str(count)
            origin = _md(stage.get("source") or stage.get("reason"))
            rows.append(f"| {_md(stage.get('stage'))} | {shown} | {origin} |")
        rows.append("")
        rows.append(
            f"Expected {embeddings.get('expected')}, final {embeddings.get('final')}, "
            f"lost {embeddings.get('lost')}"
        )
        sections.append(("Embeddings per stage", rows))
    return sections
