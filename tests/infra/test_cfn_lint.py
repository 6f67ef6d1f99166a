"""cfn-lint on the synthesized templates (the SAM transform of the Chalice functions included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.support import Synthesis

# cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
ERRORS = 2


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    # The console script installed with the package, next to this interpreter.
    command = [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", "--", str(template)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("variant", ["synthesized", "ws_synthesized"])
def test_templates_have_no_cfn_lint_error(variant: str, request: pytest.FixtureRequest) -> None:
    synthesis: Synthesis = request.getfixturevalue(variant)
    result = cfn_lint(synthesis.template_path)
    assert not result.returncode & ERRORS, result.stdout + result.stderr
    # Not an error, but nothing is left unexplained either: the templates lint clean.
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_does_report_errors(tmp_path: Path) -> None:
    """The check above would see a broken template (cfn-lint is installed and reads our files)."""
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Queue": {"Type": "AWS::SQS::Queue", '
        '"Properties": {"VisibilityTimeout": "not a number", "NoSuchProperty": 1}}}}'
    )
    result = cfn_lint(broken)
    assert result.returncode & ERRORS, result.stdout
