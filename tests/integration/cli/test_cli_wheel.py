"""The CLI works installed from its wheel, outside the source tree, without its 'local' extra.

The wheel is built the way a release would be (``uv build --wheel``); its dependencies come
from the lock into a fresh virtual environment (offline: uv's cache already holds them), and
every command runs from a directory outside the checkout, so the template, the state machine
and the bundled sample can only come from the package itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the CLI's wheel and its locked dependencies; its bin directory."""
    root = tmp_path_factory.mktemp("cli-wheel")
    dist, venv = root / "dist", root / "venv"
    built = _run(
        [*_uv(), "build", "--wheel", "--package", "shopflow-cli", "--out-dir", str(dist)],
        REPO_ROOT,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("shopflow_cli-*.whl")
    # The CLI's locked dependencies (contracts and runtime as wheels, not editable), but not
    # the CLI itself: that comes from the wheel just built.
    dependencies = _run(
        [
            *_uv(),
            "sync",
            "--frozen",
            "--offline",
            "--quiet",
            "--no-dev",
            "--no-editable",
            "--no-install-project",
            "--package",
            "shopflow-cli",
        ],
        REPO_ROOT,
        UV_PROJECT_ENVIRONMENT=str(venv),
    )
    assert dependencies.returncode == 0, dependencies.stderr
    python = venv / "bin" / "python"
    wheel_install = _run(
        [
            *_uv(),
            "pip",
            "install",
            "--quiet",
            "--offline",
            "--no-deps",
            "--python",
            str(python),
            str(wheel),
        ],
        root,
    )
    assert wheel_install.returncode == 0, wheel_install.stderr
    return venv / "bin"


def test_the_installed_cli_deploys_from_its_packaged_template_and_uploads_its_bundled_sample(
    installed: Path, tmp_path: Path, moto_endpoint: str
) -> None:
    # Given the CLI installed from its wheel, run from a directory outside the checkout
    where = _run(
        [
            str(installed / "python"),
            "-c",
            "import json; from shopflow_cli.resources import BUNDLED_SAMPLE, INFRA_DIR; "
            "print(json.dumps([str(INFRA_DIR), str(BUNDLED_SAMPLE)]))",
        ],
        tmp_path,
    )
    assert where.returncode == 0, where.stderr
    infra, sample = (Path(path) for path in json.loads(where.stdout))
    venv = installed.parent
    assert venv in infra.parents and venv in sample.parents, (infra, sample)
    stack_name = f"sf-wheel-{uuid.uuid4().hex[:8]}"
    # When it deploys into the moto server (template and ASL read from the package) ...
    deployed = _run(
        [
            str(installed / "shopflow"),
            "deploy",
            "--local",
            "--endpoint-url",
            moto_endpoint,
            "--stack-name",
            stack_name,
        ],
        tmp_path,
    )
    assert deployed.returncode == 0, deployed.stderr
    assert f"data_bucket={stack_name}-data" in deployed.stdout
    # ... and uploads the bundled sample (found through the package) to that stack
    files = sorted(str(path) for path in sample.glob("*.csv"))
    uploaded = _run(
        [
            str(installed / "shopflow"),
            "upload",
            "--endpoint-url",
            moto_endpoint,
            "--stack-name",
            stack_name,
            *files,
        ],
        tmp_path,
    )
    # Then all three files of the sample reach the landing prefix
    assert uploaded.returncode == 0, uploaded.stderr
    assert sorted(line.rsplit("/", 1)[-1] for line in uploaded.stdout.split()) == [
        "order_items.csv",
        "orders.csv",
        "products.csv",
    ]


def test_without_the_local_extra_the_cli_has_no_moto_or_pandas_and_says_what_to_install(
    installed: Path, tmp_path: Path
) -> None:
    # Given the bare CLI install
    probe = _run(
        [
            str(installed / "python"),
            "-c",
            "import importlib.util as u; print([m for m in ('moto', 'pandas', 'duckdb', "
            "'shopflow_loader', 'shopflow_bench') if u.find_spec(m)])",
        ],
        tmp_path,
    )
    assert probe.stdout.strip() == "[]", probe.stderr
    # When the local stack is asked for
    demo = _run([str(installed / "shopflow"), "demo"], tmp_path)
    # Then it fails at once with the install command, not with a child's traceback
    assert demo.returncode == 1
    assert "shopflow-cli[local]" in demo.stderr
    assert "Traceback" not in demo.stderr
