"""The docs list every finding code and every command has help text."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfn_forensics.checks.registry import CHECK_MODULES, load_checks
from sfn_forensics.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_findings_doc_lists_every_code() -> None:
    text = (DOCS / "findings.md").read_text()
    for module in load_checks():
        for code in module.SPEC.codes:
            assert f"`{code.code}`" in text, f"{code.code} missing from docs/findings.md"


def test_check_names_match_modules() -> None:
    for name, module in zip(CHECK_MODULES, load_checks(), strict=True):
        assert module.SPEC.name == name


def test_finding_codes_unique() -> None:
    codes = [code.code for module in load_checks() for code in module.SPEC.codes]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    "command",
    [[], ["inspect"], ["logs"], ["poll-results"], ["snapshot"], ["sandbox"], ["sandbox", "up"]],
)
def test_command_help_nonempty(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_help_imports_no_heavy_modules() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from sfn_forensics.cli import main\n"
        "main(['--help'])\n"
        "heavy = ['boto3', 'botocore', 'rich', 'jmespath', 'orjson', 'chromadb']\n"
        "print('heavy:' + ','.join(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "heavy:"
