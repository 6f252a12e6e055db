"""``shopflow``: run the pipeline locally, feed it files, and read its KPIs back."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from shopflow_cli import operations, report
from shopflow_cli.clients import aws_client
from shopflow_cli.deploy import StackOutputs, deploy_stack, read_stack_outputs, render_template
from shopflow_cli.localstack import (
    LocalStack,
    StackState,
    deploy_local,
)
from shopflow_cli.resources import BUNDLED_SAMPLE, INFRA_DIR

DEFAULT_STATE_FILE = Path(".shopflow/stack.json")


@dataclass(frozen=True)
class Target:
    """A deployed shopflow: AWS (no endpoint) or a local stack (the moto endpoint)."""

    endpoint_url: str | None
    outputs: StackOutputs

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint_url)


def resolve_target(args: argparse.Namespace) -> Target:
    if args.endpoint_url is None and args.stack_name is None:
        state = StackState.load(args.state_file)
        return Target(state.endpoint_url, StackOutputs.model_validate(state.outputs))
    stack_name = args.stack_name or "shopflow"
    cloudformation = aws_client("cloudformation", args.endpoint_url)
    return Target(args.endpoint_url, read_stack_outputs(cloudformation, stack_name))


# --- commands ----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    data_dir: Path = args.data
    files = operations.csv_files_under(data_dir)
    if not files:
        print(f"no CSV files under {data_dir}", file=sys.stderr)
        return 2
    print("starting the local stack (moto server + loader, validator, kpi) ...", flush=True)
    # The services run in their own sessions: only a clean exit from LocalStack stops them.
    _stop_on_interrupt_or_terminate()
    with LocalStack(state_file=args.state_file, batch_window_seconds=args.batch_window) as stack:
        target = Target(stack.endpoint_url, _outputs(stack))
        started = time.monotonic()
        keys = operations.upload_files(
            target.client("s3"),
            target.outputs.data_bucket,
            files,
            # Relative paths as keys: split exports often repeat names across folders.
            names=[path.relative_to(data_dir).as_posix() for path in files],
        )
        print(f"uploaded {len(keys)} file(s) from {data_dir}; waiting for the pipeline ...")
        executions = operations.wait_until_settled(
            target.client("stepfunctions"),
            target.client("sqs"),
            target.outputs.state_machine_arn,
            target.outputs.arrivals_queue_url,
            expected_at_least=1,
            quiet_seconds=args.batch_window + 2,
            timeout=args.timeout,
            health_check=stack.check_alive,
        )
        elapsed = time.monotonic() - started
        failed = _print_executions(target, executions)
        print(f"pipeline settled in {elapsed:.1f}s\n")
        _print_accounting(target, executions)
        print()
        _print_kpis(target, "days", None, None, None, "table")
        print()
        _print_kpis(target, "categories", None, None, None, "table")
        if args.export is not None:
            category_path, day_path = operations.export_kpis(
                target.client("dynamodb"),
                target.outputs.category_kpis_table,
                target.outputs.daily_kpis_table,
                args.export,
            )
            print(f"\nexported {category_path} and {day_path}")
    return 1 if failed else 0


def _stop_on_interrupt_or_terminate() -> None:
    """Ctrl-C and SIGTERM both stop the stack cleanly (raise KeyboardInterrupt).

    Set explicitly: a process started with SIGINT ignored (a background job of a
    non-interactive shell, say) inherits that, and Python then never raises
    KeyboardInterrupt; ``up`` would outlive the Ctrl-C (or ``kill``) meant to stop it.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)


def cmd_up(args: argparse.Namespace) -> int:
    stop = threading.Event()
    _stop_on_interrupt_or_terminate()
    try:
        with LocalStack(
            state_file=args.state_file, batch_window_seconds=args.batch_window
        ) as stack:
            print(f"shopflow local stack is up at {stack.endpoint_url}")
            print(f"  data bucket: {_outputs(stack).data_bucket} (upload under landing/)")
            print(f"  logs: {args.state_file.parent / 'logs'}")
            print(
                "  try: shopflow upload samples/thelook-small/*.csv; shopflow status; "
                "shopflow kpis days; shopflow report orders.csv"
            )
            print("Ctrl-C stops everything.", flush=True)
            try:
                while not stop.wait(1.0):
                    stack.check_alive()
            except KeyboardInterrupt:
                print("\nstopping ...", flush=True)
    except KeyboardInterrupt:
        # Ctrl-C while the stack was still starting: LocalStack has already stopped what it
        # started, which is exactly what the user asked for.
        print("\nstopped before the stack was up", flush=True)
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    for path in args.paths:
        if not path.is_file():
            print(f"not a file: {path}", file=sys.stderr)
            return 2
    keys = operations.upload_files(target.client("s3"), target.outputs.data_bucket, args.paths)
    for key in keys:
        print(f"s3://{target.outputs.data_bucket}/{key}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    sfn = target.client("stepfunctions")
    executions = operations.list_executions(sfn, target.outputs.state_machine_arn)
    pending = operations.queue_depth(target.client("sqs"), target.outputs.arrivals_queue_url)
    print(f"arrivals waiting: {pending}")
    _print_pending(sfn, executions)
    recent = executions[-args.limit :]
    _print_executions(target, recent)
    print()
    _print_accounting(target, recent)
    return 0


def _print_pending(sfn: Any, executions: list[operations.Execution]) -> None:
    """Items waiting for their order or product, as the latest successful run saw them."""
    for execution in reversed(executions):
        if execution.status != "SUCCEEDED":
            continue
        output = json.loads(sfn.describe_execution(executionArn=execution.arn)["output"])
        kpis = output.get("kpis", {}).get("payload", {})
        print(
            f"items waiting for their order or product: {kpis.get('pending_items', 0)} "
            f"(orphaned beyond the grace period: {kpis.get('orphaned_items', 0)}"
            + (f"; see {kpis['pending_report_key']})" if kpis.get("pending_report_key") else ")")
        )
        return


def cmd_kpis(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    _print_kpis(target, args.table, args.date_from, args.date_to, args.category, args.format)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    try:
        found = report.find_reports(
            target.client("s3"), target.outputs.data_bucket, args.file, rejected_rows=args.rows
        )
    except report.ReportNotFoundError as missing:
        print(f"shopflow report: {missing}", file=sys.stderr)
        return 1
    sfn = target.client("stepfunctions")
    found = report.settled_reports(
        found,
        lambda batch_id: report.settled_files_of(
            operations.execution_output(sfn, target.outputs.state_machine_arn, batch_id)
        ),
    )
    print(report.render_reports(found, args.format))
    return 0


# Commands other distributions add to ``shopflow`` (``shopflow-bench`` adds ``bench``).
COMMAND_ENTRY_POINTS = "shopflow.commands"


def load_command(name: str) -> Callable[[list[str]], int] | None:
    """The ``main(argv)`` an installed distribution registers for ``shopflow NAME``."""
    for entry_point in entry_points(group=COMMAND_ENTRY_POINTS, name=name):
        command: Callable[[list[str]], int] = entry_point.load()
        return command
    return None


def cmd_bench(argv: list[str]) -> int:
    # Loaded only when asked for: the benchmark is its own distribution (with pandas), and
    # the rest of the CLI works without it.
    bench = load_command("bench")
    if bench is None:
        print(
            "shopflow bench: the benchmark is not installed (it is the shopflow-bench "
            "package of the workspace: make bench)",
            file=sys.stderr,
        )
        return 2
    return int(bench(argv))


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.local:
        if args.endpoint_url is None:
            print("--local needs --endpoint-url (the moto server)", file=sys.stderr)
            return 2
        outputs = deploy_local(args.endpoint_url, args.stack_name or "shopflow-local")
    else:
        parameters = dict(item.split("=", 1) for item in args.parameter)
        template = render_template(INFRA_DIR / "template.yaml", INFRA_DIR / "statemachine.asl.json")
        outputs = deploy_stack(
            aws_client("cloudformation", args.endpoint_url),
            args.stack_name or "shopflow",
            parameters,
            template,
        )
    for name, value in outputs.model_dump().items():
        print(f"{name}={value}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from shopflow_cli import sampledata

    sampledata.main(args.rest)
    return 0


# --- output ------------------------------------------------------------------------------


def _outputs(stack: LocalStack) -> StackOutputs:
    if stack.outputs is None:
        raise RuntimeError("stack not started")
    return stack.outputs


def _print_executions(target: Target, executions: list[operations.Execution]) -> bool:
    """Print runs and the reason of each failure; True when any run failed."""
    sfn = target.client("stepfunctions")
    failed = False
    for execution in executions:
        took = (
            f"{(execution.stopped - execution.started).total_seconds():6.1f}s"
            if execution.stopped
            else "   ...  "
        )
        print(
            f"{execution.started:%Y-%m-%d %H:%M:%S}  {execution.status:<9} {took}  {execution.name}"
        )
        if execution.status not in {"SUCCEEDED", "RUNNING"}:
            failed = True
            print(_describe_failure(operations.execution_failure(sfn, execution.arn)))
    return failed


def _describe_failure(failure: dict[str, Any]) -> str:
    reason = failure.get("reason") or failure.get("cause") or "no reason recorded"
    text = f"    {failure.get('error') or 'error'}: {reason}"
    files = [name for name in failure.get("files") or [] if name not in str(reason)]
    if files:
        text += f"\n    files: {', '.join(files)}"
    return text


def _print_accounting(target: Target, executions: list[operations.Execution]) -> None:
    """Where every row of every uploaded file went, per execution."""
    sfn = target.client("stepfunctions")
    print("file accounting (rows_in = accepted + rejected + duplicates + pending)")
    for execution in executions:
        print(f"  {execution.name} ({execution.status})")
        if execution.status == "SUCCEEDED":
            output = sfn.describe_execution(executionArn=execution.arn).get("output")
            print(report.render_accounting(report.execution_accounting(output)))
        elif execution.status == "RUNNING":
            print("    still running")
        else:
            # A failed run has no output to account from; its typed failure (printed in full
            # in the list above) is the whole story.
            error = operations.execution_failure(sfn, execution.arn).get("error") or "an error"
            print(f"    no file accounting: the run failed with {error} (reason above)")


def _print_kpis(
    target: Target,
    table: str,
    date_from: date | None,
    date_to: date | None,
    category: str | None,
    output_format: str,
) -> None:
    dynamodb = target.client("dynamodb")
    start = date_from or operations.EARLIEST_DATE
    columns: tuple[str, ...]
    if table == "days":
        rows = operations.read_day_kpis(dynamodb, target.outputs.daily_kpis_table, start, date_to)
        columns = operations.DAY_COLUMNS
    else:
        rows = operations.read_category_kpis(
            dynamodb,
            target.outputs.category_kpis_table,
            target.outputs.daily_kpis_table,
            start,
            date_to,
            category,
        )
        columns = operations.CATEGORY_COLUMNS
    print(operations.render(operations.as_records(rows, columns), columns, output_format))


# --- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def with_target(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--endpoint-url", help="AWS endpoint (a moto server); default: the running local stack"
        )
        sub.add_argument("--stack-name", help="CloudFormation stack to read names from")
        return sub

    def with_state(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
        return sub

    demo = with_state(commands.add_parser("demo", help="run the whole pipeline on sample data"))
    demo.add_argument("--data", type=Path, default=BUNDLED_SAMPLE, help="directory of CSV files")
    demo.add_argument("--export", type=Path, help="write category_kpis.csv and order_kpis.csv here")
    demo.add_argument("--timeout", type=float, default=600)
    demo.add_argument("--batch-window", type=float, default=2.0)
    demo.set_defaults(run=cmd_demo)

    up = with_state(commands.add_parser("up", help="run the local stack in the foreground"))
    up.add_argument("--batch-window", type=float, default=2.0)
    up.set_defaults(run=cmd_up)

    upload = with_state(with_target(commands.add_parser("upload", help="upload CSV files")))
    upload.add_argument("paths", nargs="+", type=Path)
    upload.set_defaults(run=cmd_upload)

    status = with_state(with_target(commands.add_parser("status", help="recent executions")))
    status.add_argument("--limit", type=int, default=20)
    status.set_defaults(run=cmd_status)

    kpis = with_state(with_target(commands.add_parser("kpis", help="read KPI tables")))
    kpis.add_argument("table", choices=["categories", "days"])
    kpis.add_argument("--from", dest="date_from", type=date.fromisoformat)
    kpis.add_argument("--to", dest="date_to", type=date.fromisoformat)
    kpis.add_argument("--category")
    kpis.add_argument("--format", choices=["table", "csv", "json"], default="table")
    kpis.set_defaults(run=cmd_kpis)

    report_cmd = with_state(
        with_target(commands.add_parser("report", help="validation reports of an uploaded file"))
    )
    report_cmd.add_argument("file", help="object key (landing/x.csv) or file name (x.csv)")
    report_cmd.add_argument("--format", choices=["table", "json"], default="table")
    report_cmd.add_argument(
        "--rows", type=int, default=report.REJECTED_ROWS_SHOWN, help="rejected rows shown"
    )
    report_cmd.set_defaults(run=cmd_report)

    deploy = with_target(commands.add_parser("deploy", help="deploy the CloudFormation stack"))
    deploy.add_argument("--local", action="store_true", help="deploy into a moto server")
    deploy.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    deploy.set_defaults(run=cmd_deploy)

    sample = commands.add_parser("sample", help="generate a seeded sample dataset")
    sample.add_argument("rest", nargs=argparse.REMAINDER)
    sample.set_defaults(run=cmd_sample)

    # Listed for --help only: main() hands everything after 'bench' to the benchmark
    # untouched, because argparse would claim its options (REMAINDER cannot start with one).
    commands.add_parser("bench", help="benchmark shopflow (arguments: shopflow bench --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (FileNotFoundError, TimeoutError, RuntimeError) as problem:
        print(f"shopflow: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Everything the command started has been stopped on the way out.
        print("shopflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
