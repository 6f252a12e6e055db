"""Compare a checkov JSON report with the accepted findings (infra/checkov-baseline.yaml).

Exit 1 on a finding the baseline does not accept, on an accepted finding that no longer
occurs (the baseline must not keep stale reasons), and on a report checkov could not make.
Usage: python .ci/checkov_gate.py BASELINE REPORT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def findings(report: object) -> set[tuple[str, str]]:
    runs = report if isinstance(report, list) else [report]
    found: set[tuple[str, str]] = set()
    for run in runs:
        if not isinstance(run, dict) or "results" not in run:
            raise ValueError(f"not a checkov report: {str(run)[:200]}")
        if run["summary"].get("parsing_errors"):
            raise ValueError(f"checkov could not parse {run.get('check_type')}: {run['summary']}")
        for check in run["results"]["failed_checks"]:
            found.add((check["check_id"], check["resource"]))
    return found


def main(argv: list[str]) -> int:
    baseline_path, report_path = (Path(arg) for arg in argv)
    accepted = {
        (entry["check"], resource)
        for entry in yaml.safe_load(baseline_path.read_text())
        for resource in entry["resources"]
        if entry.get("why", "").strip()
    }
    try:
        found = findings(json.loads(report_path.read_text() or "null"))
    except (ValueError, KeyError, TypeError) as problem:
        print(f"checkov: no usable report ({problem})", file=sys.stderr)
        return 1
    new = sorted(found - accepted)
    stale = sorted(accepted - found)
    for check, resource in new:
        print(f"checkov: {check} fails on {resource}: fix it, or accept it in {baseline_path}")
    for check, resource in stale:
        print(f"checkov: {check} on {resource} no longer fails: remove it from {baseline_path}")
    if new or stale:
        return 1
    print(f"checkov: {len(found)} accepted finding(s), nothing new ({baseline_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
