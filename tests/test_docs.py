"""Convention tests (datasette's test_docs): settings and commands are documented."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli import main
from server.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def commands(group: click.Group, prefix: str = "luot") -> dict[str, click.Command]:
    """Every command under a group, by its full name."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        found[full] = command
        if isinstance(command, click.Group):
            found.update(commands(command, full))
    return found


def test_every_setting_has_help_and_is_documented() -> None:
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    sample = (ROOT / "deploy" / "env.sample").read_text()
    for setting in SETTINGS:
        assert setting.help.strip(), setting.env
        assert f"`{setting.env}`" in configuration, setting.env
        assert setting.env in sample, setting.env


def test_every_command_and_option_has_help_and_is_documented() -> None:
    cli_doc = (ROOT / "docs" / "cli.md").read_text()
    for name, command in commands(main).items():
        assert command.help and command.help.strip(), name
        assert f"`{name}" in cli_doc, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"


def test_readme_starts_with_the_two_commands() -> None:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    text = "\n".join(lines[:12])
    assert "make run" in text and "make test" in text
    assert (ROOT / ".ci" / "run").read_text().count("make test") == 1
