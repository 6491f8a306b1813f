"""The package's structure stays as designed: one-way layers (import-linter), no private name
imported across modules, and no module over 600 lines."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

SRC = ROOT / "src" / "aekit"
MAX_LINES = 600


def test_layers_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed: pip install -e '.[test]'")
    result = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def private_imports(text: str) -> list[tuple[int, str, str]]:
    """(line, name, module) of each `from aekit... import _name` in a module's source."""
    return [(n.lineno, a.name, n.module) for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("aekit")
            for a in n.names if a.name.startswith("_") and not a.name.startswith("__")]


def test_the_private_import_check_finds_one():
    text = "from aekit.train.trainer import _State\nfrom aekit.runs import RunRecord\n"
    assert private_imports(text) == [(1, "_State", "aekit.train.trainer")]


def test_no_private_name_crosses_a_module():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name} from {module}"
           for p in sorted(SRC.rglob("*.py")) for line, name, module in private_imports(p.read_text(encoding="utf-8"))]
    assert not bad, "\n".join(bad)


def test_no_module_over_600_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in sorted(SRC.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, "\n".join(long)
