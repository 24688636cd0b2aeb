"""Check the import layers (cli -> ui -> app -> {sync, crdt}, sync -> crdt) with import-linter.

    python scripts/layers.py          # exit 1 and name the offending imports when broken

The contract is ``[tool.importlinter]`` in pyproject.toml. Why a script instead of a bare
``lint-imports``: the package maps ``bullpen.crdt`` … ``bullpen.cli`` to the folders ``crdt/`` …
``cli/`` (``package-dir``), which import-linter cannot follow (it walks ``bullpen/`` and finds no
subpackage). So the script lays the five folders out as one ``bullpen/`` tree of symbolic
links in a temporary folder and lints that: the same files, under their installed names.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("crdt", "sync", "app", "ui", "cli")


def main() -> int:
    from importlinter.cli import lint_imports

    with tempfile.TemporaryDirectory(prefix="bullpen-layers-") as tmp:
        package = Path(tmp) / "bullpen"
        package.mkdir()
        (package / "__init__.py").symlink_to(ROOT / "bullpen" / "__init__.py")
        for folder in LAYERS:
            (package / folder).symlink_to(ROOT / folder, target_is_directory=True)
        os.chdir(tmp)  # import-linter finds the root package from here, before site-packages
        return lint_imports(config_filenames=(str(ROOT / "pyproject.toml"),), no_cache=True,
                            no_logo=True)


if __name__ == "__main__":
    sys.exit(main())
