"""The layout's own rules that import-linter does not check (it checks the layers, config/test.sh)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "console", "frontend", "triggers", "builder", "engine", "tenants")


def modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts and "node_modules" not in path.parts:
                yield path


def test_every_module_opens_with_a_docstring():
    missing = [str(p.relative_to(ROOT)) for p in modules() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


def test_no_module_passes_600_lines():
    """Split a module along its seams before it gets there (README, contributing)."""
    long = {str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}
