"""The compose route end to end: images built by the project's Dockerfile, run read-only as
their non-root user, the bundled sample through the containers, KPIs equal to the
process-based local stack's (and to the independent reference)."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from compose_support import ComposeStack, docker
from reference_kpis import reference_kpis
from shopflow_cli import operations
from shopflow_cli.clients import aws_client
from shopflow_cli.deploy import read_stack_outputs
from shopflow_cli.localstack import LocalStack
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS

pytestmark = pytest.mark.compose

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "samples" / "thelook-small"
SCRATCH = "/var/lib/shopflow"
WRITE_PROBE = (
    "import os, sys, tempfile; d = sys.argv[1]; os.makedirs(os.path.join(d, 'run'), exist_ok=True);"
    " tempfile.mkstemp(dir=d); print(os.getuid(), oct(os.stat(d).st_mode & 0o777))"
)


def _on_fresh_volume(image: str, mount: str, *command: str) -> tuple[int, str]:
    """Run ``command`` in ``image`` (read-only root, its own user) with a new named volume at
    ``mount``: mounted as Fargate mounts a task's scratch volume, root-owned with mode 0755
    unless the image declares and prepares that path."""
    volume = f"shopflow-probe-{uuid.uuid4().hex[:10]}"
    try:
        ran = docker(
            "run",
            "--rm",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--volume",
            f"{volume}:{mount}",
            "--entrypoint",
            "python3",
            image,
            *command,
        )
        return ran.returncode, (ran.stdout + ran.stderr).strip()
    finally:
        docker("volume", "rm", "--force", volume)


@pytest.mark.parametrize("worker", ["loader", "validator", "kpi", "api"])
def test_the_worker_user_can_write_its_scratch_volume_as_fargate_mounts_it(
    built_images: dict[str, str], worker: str
) -> None:
    image = built_images[worker]
    # Given the image, as Fargate would run it: read-only root, its own user, a fresh volume
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert SCRATCH in (config["Volumes"] or {})
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SHOPFLOW_WORK_DIR"] == SCRATCH and env["TMPDIR"] == SCRATCH
    # When the worker's user writes its work dir and a temporary file there
    code, said = _on_fresh_volume(image, SCRATCH, "-c", WRITE_PROBE, SCRATCH)
    # Then it can, as uid 10001, in a directory only it may enter
    assert code == 0, said
    assert said.splitlines()[-1] == "10001 0o700"


def test_a_path_the_image_does_not_prepare_is_not_writable_the_failure_this_guards(
    built_images: dict[str, str],
) -> None:
    # The control: the same probe on a fresh volume mounted where the image has no VOLUME
    # (what every run would meet if the Dockerfile dropped its scratch directory)
    code, said = _on_fresh_volume(
        built_images["kpi"], "/srv/scratch", "-c", WRITE_PROBE, "/srv/scratch"
    )
    assert code != 0 and "Permission denied" in said, said


def test_the_bundled_sample_through_compose_gives_the_process_stacks_kpis(
    compose_stack: ComposeStack, tmp_path: Path
) -> None:
    # Given the compose stack up (moto, deployed template, three healthy worker containers)
    endpoint = compose_stack.endpoint_url
    outputs = read_stack_outputs(aws_client("cloudformation", endpoint), "shopflow-local")
    files = operations.csv_files_under(SAMPLE)
    # When the bundled sample is uploaded from the host, as the README says
    started = time.monotonic()
    operations.upload_files(aws_client("s3", endpoint), outputs.data_bucket, files)
    executions = operations.wait_until_settled(
        aws_client("stepfunctions", endpoint),
        aws_client("sqs", endpoint),
        outputs.state_machine_arn,
        outputs.arrivals_queue_url,
        expected_at_least=1,
        quiet_seconds=5,
        timeout=300,
    )
    print(f"compose: sample run settled in {time.monotonic() - started:.0f}s")
    # Then one run succeeded, its KPIs equal the process-based local stack's for the same files
    assert [e.status for e in executions] == ["SUCCEEDED"], compose_stack.compose("logs").stdout[
        -4000:
    ]
    in_compose = operations.export_kpis(
        aws_client("dynamodb", endpoint),
        outputs.category_kpis_table,
        outputs.daily_kpis_table,
        tmp_path / "compose",
    )
    with LocalStack(
        state_file=tmp_path / "processes" / "stack.json", batch_window_seconds=1.5
    ) as stack:
        local = stack.require_outputs()
        operations.upload_files(aws_client("s3", stack.endpoint_url), local.data_bucket, files)
        operations.wait_until_settled(
            aws_client("stepfunctions", stack.endpoint_url),
            aws_client("sqs", stack.endpoint_url),
            local.state_machine_arn,
            local.arrivals_queue_url,
            expected_at_least=1,
            quiet_seconds=3.5,
            timeout=240,
            health_check=stack.check_alive,
        )
        as_processes = operations.export_kpis(
            aws_client("dynamodb", stack.endpoint_url),
            local.category_kpis_table,
            local.daily_kpis_table,
            tmp_path / "processes",
        )
    compose_categories, compose_days = (path.read_text() for path in in_compose)
    process_categories, process_days = (path.read_text() for path in as_processes)
    assert compose_days == process_days and compose_categories == process_categories
    # ... and both equal the independent reference, to the cent
    expected_categories, expected_days = reference_kpis(files)
    assert compose_days == operations.render(expected_days, DAY_KPI_COLUMNS, "csv")
    assert compose_categories == operations.render(expected_categories, CATEGORY_KPI_COLUMNS, "csv")
    assert len(expected_days) > 30
    # ... and the api container serves them: every day of the reference, to the cent
    dates = sorted(row["order_date"] for row in expected_days)
    served = httpx.get(
        f"{compose_stack.api_url}/v1/days",
        params={"from": dates[0], "to": dates[-1], "limit": 366},
        timeout=30,
    )
    assert served.status_code == 200, compose_stack.compose("logs", "api").stdout[-3000:]
    by_date = {
        item["order_date"]: item for item in json.loads(served.text, parse_float=Decimal)["items"]
    }
    assert len(by_date) == len(expected_days)
    for row in expected_days:
        assert by_date[row["order_date"]]["total_revenue"] == Decimal(row["total_revenue"])
    assert httpx.get(f"{compose_stack.api_url}/", timeout=30).status_code == 200
