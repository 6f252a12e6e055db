"""The files the CLI ships with: the bundled sample, the CloudFormation template, the ASL.

A wheel carries them inside the package (``shopflow_cli/_data``, added at build time from
``samples/`` and ``infra/``, see ``cli/pyproject.toml``), so an installed ``shopflow`` finds
them through ``importlib.resources``. An editable install from a checkout has no copy in the
package: the repository's own files are the package data there.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_PACKAGE_DATA = "_data"
_CHECKOUT = Path(__file__).resolve().parents[3]


def package_file(*parts: str) -> Path:
    """``_data/<parts>`` of the installed package, else ``<parts>`` of the source checkout."""
    packaged = resources.files("shopflow_cli").joinpath(_PACKAGE_DATA, *parts)
    # Wheels are installed unpacked, so the resource is a real path (needed by callers that
    # hand it to subprocesses or list a directory).
    if isinstance(packaged, Path) and packaged.exists():
        return packaged
    checkout = _CHECKOUT.joinpath(*parts)
    if checkout.exists():
        return checkout
    raise FileNotFoundError(
        f"shopflow_cli package data {'/'.join(parts)} is missing: not in the installed "
        f"package ({packaged}) nor in a source checkout ({checkout})"
    )


INFRA_DIR = package_file("infra")
BUNDLED_SAMPLE = package_file("samples", "thelook-small")
