"""Every ``shopflow`` command, one module each: a module here that defines ``command`` (a
``click.Command`` or ``click.Group``) is a command; nothing else needs editing to add one.

Modules import what is heavy (boto3, DuckDB, pandas) inside their functions, so that
``shopflow --help`` and each command start fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def register_commands(group: click.Group) -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            group.add_command(command)
