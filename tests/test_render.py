"""Renderers escape text that came from AWS."""

from __future__ import annotations

import io

import pytest

from sfn_forensics.checks.model import Finding, Verdict
from sfn_forensics.render.base import escape_control, get_renderer
from sfn_forensics.report import Report

HOSTILE = "ok\x1b[31mRED\x1b[0m [bold]markup[/bold] <script>|"


def hostile_report() -> Report:
    return Report(
        execution={
            "arn": "arn:aws:states:us-east-1:1:execution:m:n",
            "name": HOSTILE,
            "status": "SUCCEEDED",
        },
        workflow={"profile": None, "path": None},
        counts={},
        count_details={},
        maps=[],
        path=[HOSTILE],
        findings=[
            Finding(
                code="OUTPUT_DROPPED",
                severity="warning",
                title=HOSTILE,
                state=HOSTILE,
                evidence={"line": HOSTILE},
                next_steps=[HOSTILE],
            )
        ],
        checks=[],
        evidence_sources={"history": "ok"},
        verdict=Verdict("healthy", HOSTILE),
    )


def test_escape_control_shows_escape_bytes() -> None:
    assert escape_control("a\x1b[31mb") == "a\\x1b[31mb"


def test_escape_control_keeps_newline_and_tab() -> None:
    assert escape_control("a\nb\tc") == "a\nb\tc"


@pytest.mark.parametrize("output", ["table", "markdown", "json"])
def test_renderer_never_emits_raw_escape(output: str) -> None:
    stream = io.StringIO()
    get_renderer(output)(hostile_report(), stream, color=True)
    text = stream.getvalue()
    assert "\x1b[31m" not in text


def test_terminal_keeps_brackets_literal() -> None:
    stream = io.StringIO()
    get_renderer("table")(hostile_report(), stream, color=False)
    assert "[bold]markup[/bold]" in stream.getvalue()


def test_markdown_escapes_html_and_pipes() -> None:
    stream = io.StringIO()
    get_renderer("markdown")(hostile_report(), stream, color=False)
    text = stream.getvalue()
    assert "<script>" not in text
    assert "\\<script\\>" in text
