"""The history progress line: shown on a terminal only."""

from __future__ import annotations

import io

import pytest

from sfn_forensics.aws.progress import history_progress


class TerminalBuffer(io.StringIO):
    """A text buffer that reports itself as a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_not_terminal_writes_nothing() -> None:
    stream = io.StringIO()

    with history_progress(True, stream=stream) as on_page:
        on_page(1, 1000)

    assert stream.getvalue() == ""


def test_progress_disabled_writes_nothing() -> None:
    stream = TerminalBuffer()

    with history_progress(False, stream=stream) as on_page:
        on_page(1, 1000)

    assert stream.getvalue() == ""


def test_progress_terminal_shows_counts() -> None:
    stream = TerminalBuffer()

    with history_progress(True, stream=stream) as on_page:
        on_page(2, 1500)

    assert "2 pages, 1,500 events" in stream.getvalue()


def test_progress_captured_stderr_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with history_progress() as on_page:
        on_page(1, 10)

    assert capsys.readouterr().err == ""
