"""The local stack: moto server + the deployed template + the three services as processes.

Everything runs on 127.0.0.1 over real HTTP with real boto3 clients; only the endpoint URL
differs from AWS. The stack writes its coordinates to a state file so that other
``shopflow`` commands (upload, status, kpis) in another terminal can find it, and it stops
every process it started when it is closed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shopflow_cli.clients import LOCAL_CREDENTIALS, REGION, aws_client
from shopflow_cli.deploy import (
    StackOutputs,
    deploy_stack,
    enable_bucket_eventbridge,
    render_template,
)
from shopflow_cli.output import UserError
from shopflow_cli.resources import INFRA_DIR

SERVICES = ("loader", "validator", "kpi")
# What the 'local' extra of shopflow-cli installs: the emulator and the services it runs.
LOCAL_EXTRA_MODULES = ("moto", *(f"shopflow_{service}" for service in SERVICES))


def require_local_extra() -> None:
    """Fail with the install command, not a child's traceback, when the extra is missing."""
    missing = [name for name in LOCAL_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(
            f"the local stack needs {', '.join(missing)}: "
            "pip install 'shopflow-cli[local]' (make setup installs it)"
        )


@dataclass(frozen=True)
class StackState:
    """What another ``shopflow`` command needs to talk to a running local stack."""

    endpoint_url: str
    stack_name: str
    outputs: dict[str, str]
    pids: dict[str, int]
    # The process that wrote the file (``shopflow up`` or ``demo``): only it removes the file.
    owner_pid: int | None = None
    # Runs of earlier sessions of this stack's data (moto forgets them on restart).
    archive_file: str | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a reader never sees half a file.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.__dict__, indent=2))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> StackState:
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(
                f"no running local stack ({path} missing): start one with 'shopflow up'"
            ) from None
        except ValueError:
            raise UserError(f"{path} is not a local stack's state file") from None
        known = {name: document[name] for name in cls.__dataclass_fields__ if name in document}
        return cls(**known)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_moto(endpoint_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=1)  # noqa: S310
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"moto server not answering at {endpoint_url}") from None
            time.sleep(0.1)


def enable_state_machine_execution(endpoint_url: str) -> None:
    """moto only runs state machines (instead of recording them) once told to."""
    request = urllib.request.Request(  # noqa: S310
        f"{endpoint_url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10)  # noqa: S310


def deploy_local(endpoint_url: str, stack_name: str) -> StackOutputs:
    enable_state_machine_execution(endpoint_url)
    template = render_template(INFRA_DIR / "template.yaml", INFRA_DIR / "statemachine.asl.json")
    outputs = deploy_stack(
        aws_client("cloudformation", endpoint_url),
        stack_name,
        {"Environment": "local"},
        template,
    )
    enable_bucket_eventbridge(aws_client("s3", endpoint_url), outputs.data_bucket)
    return outputs


def service_environment(
    outputs: StackOutputs,
    endpoint_url: str,
    work_dir: Path,
    service: str,
    *,
    batch_window_seconds: float,
) -> dict[str, str]:
    """A service's SHOPFLOW_* settings on the local stack: its resources plus laptop tuning."""
    return {
        **outputs.worker_environment(service),  # type: ignore[arg-type]
        "SHOPFLOW_AWS_ENDPOINT_URL": endpoint_url,
        "SHOPFLOW_AWS_REGION": REGION,
        "SHOPFLOW_LOG_LEVEL": "INFO",
        # Short long-polls so that Ctrl-C stops the workers within a second or two.
        "SHOPFLOW_POLL_WAIT_SECONDS": "1",
        "SHOPFLOW_BATCH_WINDOW_SECONDS": str(batch_window_seconds),
        # The design's 30 s and 40 s waits only slow a laptop down.
        "SHOPFLOW_WAIT_CHECK_DATA_LOADED_SECONDS": "0",
        "SHOPFLOW_WAIT_FOR_EVENTBRIDGE_SECONDS": "0",
        "SHOPFLOW_WORK_DIR": str(work_dir / service),
    }


@dataclass
class LocalStack:
    """Context manager running the whole local stack; ``close()`` stops all it started."""

    state_file: Path
    stack_name: str = "shopflow-local"
    batch_window_seconds: float = 2.0
    log_dir: Path | None = None
    services: tuple[str, ...] = SERVICES
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)
    state: StackState | None = None
    outputs: StackOutputs | None = None

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def require_outputs(self) -> StackOutputs:
        if self.outputs is None:
            raise RuntimeError("stack not started")
        return self.outputs

    @property
    def endpoint_url(self) -> str:
        if self.state is None:
            raise RuntimeError("stack not started")
        return self.state.endpoint_url

    def start(self) -> None:
        require_local_extra()
        log_dir = self.log_dir or self.state_file.parent / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        work_dir = self.state_file.parent / "work"
        work_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        endpoint_url = f"http://127.0.0.1:{port}"
        moto = self._spawn(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            {"MOTO_PORT": str(port)},
            log_dir,
        )
        wait_for_moto(endpoint_url, moto, timeout=60)
        self.outputs = deploy_local(endpoint_url, self.stack_name)
        self.state = StackState(
            endpoint_url=endpoint_url,
            stack_name=self.stack_name,
            outputs=self.outputs.model_dump(),
            pids={},
        )
        for service in self.services:
            self.start_service(service)
        self.state = StackState(
            endpoint_url=endpoint_url,
            stack_name=self.stack_name,
            outputs=self.outputs.model_dump(),
            pids={name: process.pid for name, process in self._processes.items()},
        )
        self.state.save(self.state_file)

    def check_alive(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {process.returncode}; see its log in "
                    f"{self.state_file.parent / 'logs'}"
                )

    def start_service(self, name: str) -> None:
        if self.outputs is None or self.state is None:
            raise RuntimeError("stack not started")
        work_dir = self.state_file.parent / "work"
        environment = {
            **LOCAL_CREDENTIALS,
            **service_environment(
                self.outputs,
                self.state.endpoint_url,
                work_dir,
                name,
                batch_window_seconds=self.batch_window_seconds,
            ),
        }
        (work_dir / name).mkdir(parents=True, exist_ok=True)
        log_dir = self.log_dir or self.state_file.parent / "logs"
        self._spawn(name, [sys.executable, "-m", f"shopflow_{name}"], environment, log_dir)

    def close(self) -> None:
        # Services first (they poll moto), moto last.
        for name in [n for n in self._processes if n != "moto"] + ["moto"]:
            process = self._processes.pop(name, None)
            if process is not None:
                _terminate(process)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        with suppress(FileNotFoundError):
            self.state_file.unlink()

    def _spawn(
        self, name: str, command: list[str], extra_env: dict[str, str], log_dir: Path
    ) -> subprocess.Popen[bytes]:
        log = (log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        environment = {**os.environ, **extra_env}
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: Ctrl-C in the terminal reaches the CLI, which then stops
            # the children in order instead of them dying mid-request.
            start_new_session=True,
        )
        self._processes[name] = process
        return process


def stop_on_interrupt_or_terminate() -> None:
    """Ctrl-C and SIGTERM both stop the stack cleanly (raise KeyboardInterrupt).

    Set explicitly: a process started with SIGINT ignored (a background job of a
    non-interactive shell, say) inherits that, and Python then never raises
    KeyboardInterrupt; ``up`` would outlive the Ctrl-C (or ``kill``) meant to stop it.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)


def _terminate(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
