"""Global options shared by every subcommand."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@dataclass
class GlobalOptions:
    """Options shared by every subcommand, spelled as the AWS CLI spells them."""

    profile: str | None
    region: str | None
    endpoint_url: str | None
    output: OutputFormat
    verbose: int
    color: bool
