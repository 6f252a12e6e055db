"""The local stack: moto server + the deployed template + the three services as processes.

Everything runs on 127.0.0.1 over real HTTP with real boto3 clients; only the endpoint URL
differs from AWS. The stack writes its coordinates to a state file so that other
``shopflow`` commands (upload, status, kpis) in another terminal can find it, and it stops
every process it started when it is closed.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
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
from shopflow_cli.persist import DataFolder, Saved
from shopflow_cli.resources import INFRA_DIR
from shopflow_cli.target import Target

SERVICES = ("loader", "validator", "kpi")
# What the 'local' extra of shopflow-cli installs: the emulator and the services it runs.
LOCAL_EXTRA_MODULES = ("moto", *(f"shopflow_{service}" for service in SERVICES), "shopflow_api")
# The API's port when it is free (compose's api service takes the same one).
DEFAULT_API_PORT = 8080


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
    # The HTTP API and dashboard, when the stack runs it.
    api_url: str | None = None

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


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


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


def deploy_local(
    endpoint_url: str, stack_name: str, *, announce_uploads: bool = True
) -> StackOutputs:
    enable_state_machine_execution(endpoint_url)
    template = render_template(INFRA_DIR / "template.yaml", INFRA_DIR / "statemachine.asl.json")
    outputs = deploy_stack(
        aws_client("cloudformation", endpoint_url),
        stack_name,
        {"Environment": "local"},
        template,
    )
    # The template versions the data bucket; moto's CloudFormation leaves that out. Without
    # versions a late LoadData would read a later upload's bytes instead of its own.
    aws_client("s3", endpoint_url).put_bucket_versioning(
        Bucket=outputs.data_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    if announce_uploads:
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
class _Worker:
    """A service process and what its restarts have been (as ECS would restart a task)."""

    process: subprocess.Popen[bytes]
    started: float
    restarts: int = 0
    restart_at: float | None = None
    backoff: float = 0.0


class StackAlreadyRunningError(UserError):
    """Another ``shopflow up`` (or ``demo``) holds this state file."""


@dataclass
class LocalStack:
    """Context manager running the whole local stack; ``close()`` stops all it started.

    - One stack per state file: ``start`` takes an exclusive lock beside the file (released
      by the kernel if the process dies), refuses when another stack holds it (saying where
      that one runs), and replaces a state file left by a stack that died.
    - Children die with it: each is started with ``PR_SET_PDEATHSIG`` (Linux), so even a
      SIGKILL of this process leaves no moto server or worker behind.
    - A worker that exits is restarted, as ECS restarts a task: at once the first time, then
      with a doubling delay (up to 30 s) while it keeps dying within 10 s of its start.
    - ``replicas`` runs several workers of a service (an ECS service's desired count): the
      second kpi worker is the instance ``kpi-2``, with its own log and scratch directory.
      ``worker_env`` is given to every worker, restarts included (the task definition's
      environment); the fault suite passes its fault plan that way.
    - With ``data_dir``, the stack's data is restored at start and saved at ``save()`` and
      at close (see ``persist``); ``fresh`` starts empty instead (the saved data is removed).
    """

    state_file: Path
    stack_name: str = "shopflow-local"
    batch_window_seconds: float = 2.0
    log_dir: Path | None = None
    services: tuple[str, ...] = SERVICES
    data_dir: Path | None = None
    fresh: bool = False
    moto_access_log: bool = False
    restart_workers: bool = True
    replicas: Mapping[str, int] = field(default_factory=dict)
    worker_env: Mapping[str, str] = field(default_factory=dict)
    # The HTTP API and dashboard (shopflow_api): on by default; api_port None is any free port.
    api: bool = True
    api_port: int | None = None
    on_event: Callable[[str], None] = field(default=lambda text: None)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _workers: dict[str, _Worker] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)
    _lock: IO[str] | None = None
    _scratch: Path | None = None
    state: StackState | None = None
    outputs: StackOutputs | None = None
    restored: Saved | None = None
    api_url: str | None = None

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

    @property
    def logs(self) -> Path:
        return self.log_dir or self.state_file.parent / "logs"

    @property
    def work_dir(self) -> Path:
        """The services' scratch and cache space: it belongs with the data it caches."""
        if self.data_dir is not None:
            return self.data_dir / "work"
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="shopflow-work-"))
        return self._scratch

    @property
    def target(self) -> Target:
        return Target(
            self.endpoint_url,
            self.require_outputs(),
            archive_file=self._data.runs_file if self._data else None,
        )

    @property
    def _data(self) -> DataFolder | None:
        return DataFolder(self.data_dir) if self.data_dir is not None else None

    def start(self) -> None:
        require_local_extra()
        self._take_lock()
        self.logs.mkdir(parents=True, exist_ok=True)
        port = free_port()
        endpoint_url = f"http://127.0.0.1:{port}"
        moto_command = [sys.executable, "-m", "shopflow_cli.motoserver"]
        if self.moto_access_log:
            moto_command.append("--access-log")
        moto = self._spawn(
            "moto",
            [*moto_command, "-H", "127.0.0.1", "-p", str(port)],
            {"MOTO_PORT": str(port)},
        )
        wait_for_moto(endpoint_url, moto, timeout=60)
        self.outputs = deploy_local(endpoint_url, self.stack_name, announce_uploads=False)
        self.state = StackState(
            endpoint_url=endpoint_url,
            stack_name=self.stack_name,
            outputs=self.outputs.model_dump(),
            pids={},
        )
        data = self._data
        if data is not None:
            if self.fresh:
                data.clear()
                shutil.rmtree(self.work_dir, ignore_errors=True)
            elif data.exists():
                self.restored = data.restore(self.target, self.stack_name)
        # Only now: restored files are history, not new uploads.
        enable_bucket_eventbridge(aws_client("s3", endpoint_url), self.outputs.data_bucket)
        for service in self.services:
            for instance in instances_of(service, self.replicas.get(service, 1)):
                self.start_service(instance)
        if self.api:
            self.api_url = self._start_api(endpoint_url)
        self.state = StackState(
            endpoint_url=endpoint_url,
            stack_name=self.stack_name,
            outputs=self.outputs.model_dump(),
            pids={name: process.pid for name, process in self._processes.items()},
            owner_pid=os.getpid(),
            archive_file=str(data.runs_file) if data is not None else None,
            api_url=self.api_url,
        )
        self.state.save(self.state_file)

    def _start_api(self, endpoint_url: str, timeout: float = 60) -> str:
        """The API process on 127.0.0.1 (``api_port``, else any free port), once it answers."""
        port = self.api_port or free_port()
        url = f"http://127.0.0.1:{port}"
        process = self._spawn(
            "api",
            [sys.executable, "-m", "shopflow_api"],
            {
                **LOCAL_CREDENTIALS,
                **self.require_outputs().api_environment(),
                "SHOPFLOW_AWS_ENDPOINT_URL": endpoint_url,
                "SHOPFLOW_AWS_REGION": REGION,
                "SHOPFLOW_LOG_LEVEL": "INFO",
                "SHOPFLOW_HOST": "127.0.0.1",
                "SHOPFLOW_PORT": str(port),
            },
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)  # noqa: S310
                return url
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the API exited with {process.returncode}; see {self.logs / 'api.log'}"
                    ) from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the API is not answering at {url}") from None
                time.sleep(0.1)

    def _take_lock(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        lock = self.state_file.with_name(self.state_file.name + ".lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StackAlreadyRunningError(self._running_elsewhere()) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock
        if self.state_file.exists():
            # The lock was free, so whoever wrote this file is gone (killed, or the machine
            # restarted): its coordinates are stale.
            with suppress(UserError):
                stale = StackState.load(self.state_file)
                self.on_event(
                    f"replacing {self.state_file}: the stack that wrote it "
                    f"(pid {stale.owner_pid or '?'}, {stale.endpoint_url}) is no longer running"
                )
            self.state_file.unlink(missing_ok=True)

    def _running_elsewhere(self) -> str:
        try:
            other = StackState.load(self.state_file)
        except UserError:
            holder = self.state_file.with_name(self.state_file.name + ".lock").read_text().strip()
            return (
                f"a local stack is starting with {self.state_file} (pid {holder or '?'}); "
                "wait for it or stop it first"
            )
        return (
            f"a local stack is already running at {other.endpoint_url} (pid "
            f"{other.owner_pid or '?'}, state file {self.state_file}): use it, stop it first "
            "(Ctrl-C in its terminal), or give this one another --state-file"
        )

    def save(self, *, queues: bool = False) -> Saved | None:
        """Copy the stack's data into ``data_dir`` (no-op without one)."""
        data = self._data
        if data is None or self.outputs is None or self.state is None:
            return None
        return data.save(self.target, self.stack_name, queues=queues)

    def check_alive(self) -> None:
        """Restart workers that exited (raises only if moto itself is gone: its data is)."""
        moto = self._processes.get("moto")
        if moto is not None and moto.poll() is not None:
            raise RuntimeError(
                f"the moto server exited with code {moto.returncode}; see {self.logs / 'moto.log'}"
            )
        api = self._processes.get("api")
        if api is not None and api.poll() is not None:
            raise RuntimeError(
                f"the API exited with code {api.returncode}; see {self.logs / 'api.log'}"
            )
        now = time.monotonic()
        for name, worker in list(self._workers.items()):
            code = worker.process.poll()
            if code is None:
                continue
            if not self.restart_workers:
                raise RuntimeError(f"{name} exited with code {code}; see its log in {self.logs}")
            if worker.restart_at is None:
                lived = now - worker.started
                worker.backoff = 0.0 if lived > 10 else min(max(1.0, worker.backoff * 2), 30.0)
                worker.restart_at = now + worker.backoff
                self.on_event(
                    f"{name} exited with code {code} after {lived:.0f}s; restarting"
                    + (f" in {worker.backoff:.0f}s" if worker.backoff else "")
                    + f" (see {self.logs / (name + '.log')})"
                )
            if now >= worker.restart_at:
                self.start_service(name)
                restarted = self._workers[name]
                restarted.restarts = worker.restarts + 1
                restarted.backoff = worker.backoff
                if self.state is not None:
                    self.state = replace(
                        self.state,
                        pids={n: p.pid for n, p in self._processes.items()},
                    )
                    self.state.save(self.state_file)

    supervise = check_alive

    def start_service(self, name: str) -> None:
        """Start (or restart) the worker ``name``: a service, or one of its replicas."""
        if self.outputs is None or self.state is None:
            raise RuntimeError("stack not started")
        service = service_of(name)
        work_dir = self.work_dir
        environment = {
            **LOCAL_CREDENTIALS,
            **service_environment(
                self.outputs,
                self.state.endpoint_url,
                work_dir,
                service,
                batch_window_seconds=self.batch_window_seconds,
            ),
            # Each replica its own scratch (and curated-state cache), as each ECS task has.
            "SHOPFLOW_WORK_DIR": str(work_dir / name),
            **self.worker_env,
        }
        (work_dir / name).mkdir(parents=True, exist_ok=True)
        process = self._spawn(name, [sys.executable, "-m", f"shopflow_{service}"], environment)
        self._workers[name] = _Worker(process, time.monotonic())

    def worker_names(self) -> list[str]:
        return list(self._workers)

    def worker_pid(self, name: str) -> int:
        """The process id of the worker ``name`` as it runs now (a restart changes it)."""
        return self._workers[name].process.pid

    def restarts(self, name: str) -> int:
        """How many times the worker ``name`` was restarted after it exited."""
        return self._workers[name].restarts

    def stop_service(self, name: str) -> None:
        """Stop one worker for good (no restart): fault tests, or a stage switched off."""
        self._workers.pop(name, None)
        process = self._processes.pop(name)
        _terminate(process)

    def close(self) -> None:
        # Workers first (they finish their task and poll moto), then the data is saved
        # while moto still has it, moto last.
        for name in [n for n in self._processes if n != "moto"]:
            self._workers.pop(name, None)
            process = self._processes.pop(name, None)
            if process is not None:
                _terminate(process)
        moto = self._processes.get("moto")
        if moto is not None and moto.poll() is None and self.data_dir is not None:
            try:
                saved = self.save(queues=True)
            except Exception as problem:  # the stop must go on; say what was not kept
                self.on_event(f"could not save the local stack's data: {problem}")
            else:
                if saved is not None:
                    self.on_event(f"saved {saved.describe()} to {self.data_dir}")
        moto = self._processes.pop("moto", None)
        if moto is not None:
            _terminate(moto)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self._release()

    def _release(self) -> None:
        if self._lock is None:
            return
        # Only the stack that wrote the state file removes it (we hold the lock, so it is ours).
        with suppress(UserError):
            if StackState.load(self.state_file).owner_pid in {os.getpid(), None}:
                self.state_file.unlink(missing_ok=True)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()
        self._lock = None

    def _spawn(
        self, name: str, command: list[str], extra_env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
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
            preexec_fn=_die_with_parent(os.getpid()),
        )
        self._processes[name] = process
        return process


def instances_of(service: str, replicas: int) -> list[str]:
    """The worker names of a service run ``replicas`` times: ``kpi``, ``kpi-2``, ..."""
    return [service, *(f"{service}-{n}" for n in range(2, replicas + 1))]


def service_of(name: str) -> str:
    """The service a worker name runs: ``kpi-2`` -> ``kpi``."""
    service, _, replica = name.partition("-")
    if service not in SERVICES or (replica and not replica.isdigit()):
        raise ValueError(f"not a worker of the local stack: {name!r}")
    return service


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """In the child before exec: get SIGTERM when the parent dies (even by SIGKILL).

    Linux's PR_SET_PDEATHSIG; checked against a parent that died before the call. Elsewhere
    a no-op (the stack then relies on its clean stop)."""

    def arm() -> None:
        with suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


_PR_SET_PDEATHSIG = 1


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
