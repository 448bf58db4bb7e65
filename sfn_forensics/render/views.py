"""Output of `forensics logs`, `poll-results` and `snapshot` in the three formats."""

from __future__ import annotations

from typing import Any, TextIO

from sfn_forensics.render.base import escape_control, make_console
from sfn_forensics.views import DataView, LogsView

_LEVEL_STYLE = {"ERROR": "red", "CRITICAL": "bold red", "WARNING": "yellow", "DEBUG": "dim"}


def render_view(view: LogsView | DataView, stream: TextIO, output: str, *, color: bool) -> None:
    if output == "json":
        from sfn_forensics.render.json_output import dumps

        stream.write(dumps(view.to_json()) + "\n")
        return
    lines = _logs_lines(view) if isinstance(view, LogsView) else _data_lines(view)
    if output == "markdown":
        stream.write("```text\n")
        for text, _ in lines:
            stream.write(escape_control(text).replace("```", "'''") + "\n")
        stream.write("```\n")
        return
    from rich.text import Text

    console = make_console(stream, color=color, soft_wrap=True)
    for text, style in lines:
        console.print(Text(escape_control(text), style=style))


def _logs_lines(view: LogsView) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = [
        (f"Execution {view.execution.get('name')} ({view.execution.get('arn')})", "bold"),
        (f"Logs: {view.source}", ""),
    ]
    if view.tie_methods:
        methods = ", ".join(f"{name} {count}" for name, count in sorted(view.tie_methods.items()))
        lines.append((f"Lines tied by: {methods}", "dim"))
        lines.append(
            (
                f"Not tied: {view.untied} lines in these log groups that name no visit of this "
                "execution (other executions of the same functions, or outside every window)",
                "dim",
            )
        )
    if not view.groups:
        lines.append(("No log lines match.", ""))
    for group in view.groups:
        where = group.state or "unknown state"
        if group.iteration_index is not None:
            where += f" [iteration {group.iteration_index} of {group.parent_map}]"
        if group.visit_entered_event_id is not None:
            where += f" (entered at event {group.visit_entered_event_id})"
        else:
            where += " (visit unknown)"
        if group.tied_by:
            where += f", tied by {group.tied_by}"
        lines.append(("", ""))
        lines.append((where, "bold"))
        for line in group.lines:
            level = line["level"] or line["kind"].upper()
            text = f"  {line['timestamp']}  {level:<8} {line['message']}"
            lines.append((text, _LEVEL_STYLE.get(line["level"] or "", "")))
    return lines


def _data_lines(view: DataView) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = [
        (f"Execution {view.execution.get('name')} ({view.execution.get('arn')})", "bold"),
        (f"{view.title}: {view.source}", ""),
    ]
    if view.data is None:
        return lines
    data = dict(view.data)
    trail = data.pop("trail", None)
    lines.extend(_flatten(data, indent=0))
    if isinstance(trail, dict):
        lines.extend(_trail_lines(trail))
    return lines


def _trail_lines(trail: dict[str, Any]) -> list[tuple[str, str]]:
    """Render the batch trail as a table: one row per step, then the ids missing at each."""
    lines: list[tuple[str, str]] = [("", ""), ("Batch trail:", "bold")]
    lines.append(
        (f"  {'step':<18}{'batches':>9}  {'missing':>8}  {'extra':>6}  compared with", "bold")
    )
    for step in trail.get("steps", []):
        known = step.get("count") is not None
        count = str(step["count"]) if known else "unknown"
        missing = str(step.get("missing_count", 0)) if known else "-"
        extra = str(step.get("extra_count", 0)) if known else "-"
        lines.append(
            (
                f"  {step['name']:<18}{count:>9}  {missing:>8}  "
                f"{extra:>6}  {step.get('compared_with') or '-'}",
                "",
            )
        )
    for step in trail.get("steps", []):
        if step.get("count") is None and step.get("reason"):
            lines.append((f"  {step['name']}: {step['reason']}", "dim"))
        if step.get("missing_ids"):
            shown = ", ".join(step["missing_ids"])
            lines.append(
                (f"  missing at {step['name']} ({step['missing_count']}): {shown}", "yellow")
            )
        if step.get("extra_ids"):
            shown = ", ".join(step["extra_ids"])
            lines.append((f"  extra at {step['name']} ({step['extra_count']}): {shown}", "yellow"))
    return lines


def _flatten(data: Any, indent: int) -> list[tuple[str, str]]:
    """Turn nested JSON into indented `key: value` lines, lists of scalars on one line."""
    pad = "  " * indent
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value and not _scalar_list(value):
                out.append((f"{pad}{key}:", "bold" if indent == 0 else ""))
                out.extend(_flatten(value, indent + 1))
            elif value is None and key.endswith("_error"):
                out.append((f"{pad}{key}: none", ""))
            else:
                out.append((f"{pad}{key}: {_scalar(value)}", ""))
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                out.append((f"{pad}-", "dim"))
                out.extend(_flatten(item, indent + 1))
            else:
                out.append((f"{pad}- {_scalar(item)}", ""))
    return out


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value)


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if value else "(none)"
    if value is None:
        return "unknown"
    return str(value)
