"""The house rules of DESIGN.md: who may import whom."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_loads_no_framework() -> None:
    code = (
        "import sys, server.engine.engine, server.engine.replay;"
        "bad = [m for m in ('flask', 'sqlalchemy', 'escpos', 'flask_socketio', 'gevent')"
        " if m in sys.modules]; print(','.join(bad))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == ""


def imports_of(package: str) -> set[str]:
    """Every module a package's files import (absolute names; relative ones resolved)."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


def test_engine_imports_nothing_of_the_project_outside_it() -> None:
    outside = {
        m
        for m in imports_of("server/engine")
        if m.startswith(("server.", "kiosk", "counter_display", "printers"))
        and not m.startswith("server.engine")
    }
    assert outside == set()


def test_printers_import_no_flask() -> None:
    assert not {m for m in imports_of("printers") if m.split(".")[0] in ("flask", "flask_socketio")}


def test_kiosk_and_displays_never_use_storage_directly() -> None:
    for package in ("kiosk", "counter_display"):
        assert not {m for m in imports_of(package) if m.startswith("server.storage")}


def test_modules_stay_short() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for base in ("server", "kiosk", "counter_display", "printers")
        for p in (ROOT / base).rglob("*.py")
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > 450
    }
    assert long == {}
