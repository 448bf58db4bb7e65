"""A progress line on stderr while the history is fetched, shown only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

PageCallback = Callable[[int, int], None]


def _ignore_page(pages: int, events: int) -> None:
    del pages, events


@contextmanager
def history_progress(enabled: bool = True, stream: TextIO | None = None) -> Iterator[PageCallback]:
    """Yield an `on_page(pages, events)` callback that updates a status line.

    The callback does nothing unless `enabled` is true and `stream` (default: stderr) is a
    terminal, so redirected output and CI logs stay clean.
    """
    output = stream if stream is not None else sys.stderr
    if not enabled or not _is_terminal(output):
        yield _ignore_page
        return

    from rich.console import Console

    console = Console(file=output)
    with console.status("Fetching execution history") as status:

        def show_page(pages: int, events: int) -> None:
            status.update(f"Fetching execution history: {pages:,} pages, {events:,} events")

        yield show_page


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
