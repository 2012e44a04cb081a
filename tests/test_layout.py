"""The house rules of the layout (ARCHITECTURE.md, "Layers"), checked on every run.

import-linter holds the layers, the web feature faces and the absence of cycles;
this file adds what it cannot see: an import hidden inside a function, which is
how a cycle usually gets dodged instead of resolved.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("tenderdesk", "workflows", "activities", "web")
PACKAGES = [ROOT / name for name in FIRST_PARTY]


def _source_files() -> list[Path]:
    files = [ROOT / "worker.py"]
    for package in PACKAGES:
        files += [p for p in package.rglob("*.py") if "migrations" not in p.parts]
    return files


def _first_party(module: str) -> bool:
    return module.split(".")[0] in FIRST_PARTY


def _imports_inside_functions(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _first_party(node.module):
                found.append((node.lineno, node.module))
            elif isinstance(node, ast.Import):
                found += [(node.lineno, alias.name) for alias in node.names if _first_party(alias.name)]
    return found


def test_no_first_party_import_hides_inside_a_function() -> None:
    offenders = []
    for path in _source_files():
        for line, module in _imports_inside_functions(ast.parse(path.read_text("utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "imports belong at the top of the module:\n" + "\n".join(offenders)


def test_the_check_itself_finds_a_hidden_import() -> None:
    tree = ast.parse("def f():\n    from web.core import i18n\n    import json\n")
    assert _imports_inside_functions(tree) == [(2, "web.core")]


def test_import_contracts_are_kept() -> None:
    """The contracts live in pyproject.toml under [tool.importlinter]."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def _layout_table() -> str:
    text = (ROOT / "ARCHITECTURE.md").read_text("utf-8")
    start = text.index("## Layout")
    return text[start : text.index("\n## ", start + 1)]


def test_architecture_names_every_package_and_feature() -> None:
    """The folder table of ARCHITECTURE.md follows the code: every package of
    ``tenderdesk/`` and every web feature is named there."""
    table = _layout_table()
    packages = [p for p in (ROOT / "tenderdesk").iterdir() if (p / "__init__.py").exists()]
    features = [p for p in (ROOT / "web").iterdir() if (p / "__init__.py").exists()]
    missing = [f"tenderdesk/{p.name}/" for p in packages if f"`{p.name}/`" not in table]
    missing += [f"web/{p.name}/" for p in features if f"`{p.name}/`" not in table]
    assert not missing, f"ARCHITECTURE.md's layout table does not mention {missing}"
