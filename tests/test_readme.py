"""The README keeps up with the code it documents: the Python version pyproject.toml requires, and every command of
``fhir-server`` in the table of "The `fhir-server` command" (a command added without a line there fails here)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from fhir_server.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _command_table() -> str:
    section = README.split("## The `fhir-server` command", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `fhir-server "))


def _commands(group: Any, prefix: str = "fhir-server") -> Iterator[str]:
    """Every leaf command under ``group`` (typer's click group: subgroups have ``commands``), by its full name."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}"


def test_the_readme_states_the_python_version_pyproject_requires() -> None:
    required = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    version = re.fullmatch(r">=\s*(\d+\.\d+)", required)
    assert version, f"requires-python {required!r} is not of the form >=X.Y"
    assert f"Python {version.group(1)} or newer" in README


def test_every_command_has_a_line_in_the_readme_command_table() -> None:
    table = _command_table()
    commands = sorted(_commands(typer.main.get_command(app)))
    assert len(commands) > 15
    # a second command may share a row: "| `fhir-server clients list` / `clients revoke CLIENT_ID` |"
    shared = {name: f"/ `{name.removeprefix('fhir-server ')}" for name in commands}
    missing = [name for name in commands if f"`{name}" not in table and shared[name] not in table]
    assert missing == []
