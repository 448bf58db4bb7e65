"""The renderer interface and the format registry."""

from __future__ import annotations

import importlib
import re
from typing import Any, Protocol, TextIO

from sfn_forensics.report import Report

FORMATS = {
    "table": "sfn_forensics.render.terminal",
    "json": "sfn_forensics.render.json_output",
    "markdown": "sfn_forensics.render.markdown",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Renderer(Protocol):
    def __call__(self, report: Report, stream: TextIO, *, color: bool) -> None: ...


def get_renderer(output: str) -> Renderer:
    module = importlib.import_module(FORMATS[output])
    renderer: Renderer = module.render
    return renderer


def escape_control(text: str) -> str:
    """Show control characters (ANSI escapes among them) as `\\xNN` so they cannot act."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def make_console(
    stream: TextIO, *, color: bool, width: int | None = None, soft_wrap: bool = False
) -> Any:
    """Return a rich Console on `stream` that raises BrokenPipeError when the reader goes away.

    rich's own handling exits with status 1, which would read as "problems found"; the CLI
    catches BrokenPipeError and exits 0, as `forensics ... | head` should.
    """
    from rich.console import Console

    class _PipeAwareConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _PipeAwareConsole(
        file=stream,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=soft_wrap,
        width=width,
    )
