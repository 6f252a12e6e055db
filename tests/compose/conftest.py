"""The compose stack of compose.yaml, built and run for real (``make compose-e2e``).

One stack per test session under its own project name and host port, so a developer's own
``docker compose up`` is left alone; torn down (containers, network, volumes) at the end.
The base image comes from ``PYTHON_IMAGE`` (``.ci/compose-e2e`` chooses it).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from compose_support import REPO_ROOT, SERVICES, ComposeStack, free_port


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Compose tests run only when asked for by marker (``make compose-e2e``: -m compose).

    They need a Docker engine and minutes of image builds, which ``.ci/compose-e2e`` sets up;
    a plain ``pytest`` (the land gate, ``make pytest``) leaves them out instead of failing.
    """
    if "compose" in (config.getoption("markexpr") or ""):
        return
    compose = [item for item in items if item.get_closest_marker("compose")]
    if compose:
        config.hook.pytest_deselected(items=compose)
        items[:] = [item for item in items if not item.get_closest_marker("compose")]


@pytest.fixture(scope="session")
def built_images() -> dict[str, str]:
    """Every image of compose.yaml, built (the Dockerfile's layers cache between runs)."""
    environment = {**os.environ, "DOCKER_BUILDKIT": os.environ.get("DOCKER_BUILDKIT", "0")}
    started = time.monotonic()
    built = subprocess.run(
        ["docker", "compose", "build"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(f"compose: images built in {time.monotonic() - started:.0f}s")
    return {name: f"shopflow-{name}:local" for name in (*SERVICES, "cli")}


@pytest.fixture(scope="session")
def compose_stack(built_images: dict[str, str]) -> Iterator[ComposeStack]:
    port, api_port = free_port(), free_port()
    stack = ComposeStack(
        project=f"shopflow-ci-{os.getpid()}",
        endpoint_url=f"http://127.0.0.1:{port}",
        environment={
            **os.environ,
            "SHOPFLOW_MOTO_PORT": str(port),
            "SHOPFLOW_API_PORT": str(api_port),
        },
        api_url=f"http://127.0.0.1:{api_port}",
    )
    try:
        started = time.monotonic()
        up = stack.compose("up", "--detach", "--no-build")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        deadline = time.monotonic() + 180
        while True:
            states = stack.states()
            init_done = states.get("init", {}).get("State") == "exited"
            healthy = all(states.get(w, {}).get("Health") == "healthy" for w in SERVICES)
            if init_done and healthy:
                break
            crashed = [name for name, row in states.items() if row.get("ExitCode") not in (0, None)]
            if crashed or time.monotonic() > deadline:
                logs = stack.compose("logs", "--no-color", "--tail", "40").stdout
                pytest.fail(f"compose stack not healthy ({crashed or states}):\n{logs[-6000:]}")
            time.sleep(1)
        assert states["init"].get("ExitCode") == 0, stack.compose("logs", "init").stdout
        print(f"compose: stack up and healthy in {time.monotonic() - started:.0f}s")
        yield stack
    finally:
        down = stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30")
        assert down.returncode == 0, down.stderr
