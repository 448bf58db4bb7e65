"""JSON output: the report's data, one object, for tickets and scripts."""

from __future__ import annotations

from typing import Any, TextIO

from sfn_forensics.report import Report


def render(report: Report, stream: TextIO, *, color: bool = False) -> None:
    stream.write(dumps(report.to_json()))
    stream.write("\n")


def dumps(data: Any) -> str:
    import orjson

    return orjson.dumps(
        data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()
