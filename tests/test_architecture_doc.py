"""docs/ARCHITECTURE.md stays a true map: one line per module of the five layers (exactly one:
two helpers adding the same module give two lines to merge), no line for a module that is gone,
and no function named on the path of one edit that no module defines any more.

Why a test: the map is read by newcomers instead of the tree, so a module added without its
line (or removed with its line left) would mislead exactly the reader it is for. Modules are
the tracked Python files (``git ls-files``), so a helper's file that is not committed yet does
not fail anyone else's run.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
LAYERS = ("crdt", "sync", "app", "ui", "cli")
# A module as the map names it: its path from the repository root, in backticks.
_ANY_LAYER = "|".join(LAYERS)
NAMED = re.compile(rf"`((?:{_ANY_LAYER})/[\w/]+\.py)`")


def tracked_modules() -> set[str]:
    """The tracked Python files of the five layers, as repository paths."""
    try:
        out = subprocess.run(["git", "ls-files", "--", *(f"{d}/*.py" for d in LAYERS)],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return set(out.split())


def named_modules(doc: str) -> set[str]:
    return set(NAMED.findall(doc))


def missing_from(doc: str, modules: set[str]) -> list[str]:
    """Modules the map has no line for."""
    return sorted(modules - named_modules(doc))


def test_every_module_has_a_line() -> None:
    missing = missing_from(DOC.read_text(encoding="utf-8"), tracked_modules())
    assert not missing, f"docs/ARCHITECTURE.md lacks a line for: {', '.join(missing)}"


def listed_twice(doc: str) -> list[str]:
    """Modules with more than one line of their own (a line starts with the module's path)."""
    starts = re.findall(r"^- `([^`]+\.py)`", doc, flags=re.M)
    return sorted({p for p in starts if starts.count(p) > 1})


def test_each_module_has_one_line() -> None:
    twice = listed_twice(DOC.read_text(encoding="utf-8"))
    assert not twice, f"docs/ARCHITECTURE.md has several lines for: {', '.join(twice)}"


def test_every_named_module_exists() -> None:
    gone = sorted(p for p in named_modules(DOC.read_text(encoding="utf-8"))
                  if not (ROOT / p).is_file())
    assert not gone, f"docs/ARCHITECTURE.md names modules that do not exist: {', '.join(gone)}"


def unresolved_names(doc: str, root: Path = ROOT) -> list[str]:
    """Dotted names the map gives in backticks (``Class.method``, ``module.function``, as the
    path of one edit names them) that no module of the five layers defines. ``Class.attr``
    is sought in the modules defining ``class Class``; ``module.name`` in ``module.py``."""
    sources = {p: p.read_text(encoding="utf-8")
               for layer in LAYERS for p in (root / layer).rglob("*.py")}
    unresolved = []
    for name in sorted(set(re.findall(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)`", doc))):
        first, *rest = name.split(".")
        if rest[-1] in ("py", "md", "toml", "txt"):
            continue  # a file's name
        if first[0].isupper():
            where = [t for t in sources.values() if re.search(rf"^\s*class {first}\b", t, re.M)]
        else:
            where = [t for p, t in sources.items() if p.name == f"{first}.py"]
            if not where:
                continue  # a variable (``ws.lock``) or another package's name (``trio.run``)
        defined = all(any(re.search(rf"^\s*(?:async def|def|class) {attr}\b|^\s*{attr}\s*[:=]",
                                    t, re.M) for t in where) for attr in rest)
        if not where or not defined:
            unresolved.append(name)
    return unresolved


def test_named_functions_exist() -> None:
    unresolved = unresolved_names(DOC.read_text(encoding="utf-8"))
    assert not unresolved, f"docs/ARCHITECTURE.md names what no module defines: {unresolved}"


def test_a_module_without_its_line_is_reported() -> None:
    doc = "- `sync/node.py` — the node.\n- see sync/link.py (not in backticks: not a line)\n"
    assert missing_from(doc, {"sync/node.py", "sync/link.py"}) == ["sync/link.py"]
    assert listed_twice(doc + "- `sync/node.py` — again.\n") == ["sync/node.py"]
    assert unresolved_names("`Node.run`, `framing.Decoder.feed`, `Node.fly`, `ws.x`, "
                            "`node.py`, `framing.decode_all`") == ["Node.fly", "framing.decode_all"]
