"""The checkov gate: accepted findings pass, a new or a stale one fails (no checkov run here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def _gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "checkov_gate", REPO_ROOT / ".ci" / "checkov_gate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(*failed: tuple[str, str]) -> list[dict[str, object]]:
    return [
        {
            "check_type": "cloudformation",
            "summary": {"parsing_errors": 0},
            "results": {"failed_checks": [{"check_id": c, "resource": r} for c, r in failed]},
        }
    ]


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.yaml"
    path.write_text("- check: CKV_AWS_27\n  why: SSE-SQS\n  resources: [AWS::SQS::Queue.A]\n")
    return path


@pytest.mark.parametrize(
    ("failed", "code", "said"),
    [
        ([("CKV_AWS_27", "AWS::SQS::Queue.A")], 0, "1 accepted finding"),
        ([("CKV_AWS_27", "AWS::SQS::Queue.A"), ("CKV_AWS_1", "X.Y")], 1, "CKV_AWS_1 fails on X.Y"),
        ([], 1, "no longer fails: remove it"),
    ],
)
def test_only_the_accepted_findings_pass(
    baseline: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    failed: list[tuple[str, str]],
    code: int,
    said: str,
) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_report(*failed)))
    assert _gate().main([str(baseline), str(report)]) == code
    assert said in capsys.readouterr().out


def test_an_empty_report_fails(baseline: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("")
    assert _gate().main([str(baseline), str(report)]) == 1
