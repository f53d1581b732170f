"""The shape of the product's code, from ``ast``: modules over ~500 lines, functions over ~60.

    python scripts/code_shape.py [ROOT]

Prints the product's module count and line total, the modules over the split threshold, the
functions over the smell threshold, and flat packages whose modules share a name prefix (which
want to be a subpackage). The numbers are what the style guide asks about; the review of a
change compares them before and after.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PACKAGES = ("culto", "culto_app", "schemas", "mesh", "access", "services", "frontend_server", "ops")
MODULE_LINES = 500
FUNCTION_LINES = 60


def _functions(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            found.append((node.name, end - node.lineno + 1))
    return found


def main(root: Path) -> int:
    modules = sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py"))
    lines = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in modules}
    long_functions = []
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, size in _functions(tree):
            if size > FUNCTION_LINES:
                long_functions.append((size, f"{path.relative_to(root)}:{name}"))
    print(f"modules: {len(modules)}, lines: {sum(lines.values())}")
    big = sorted(((n, p) for p, n in lines.items() if n > MODULE_LINES), reverse=True)
    print(f"modules over {MODULE_LINES} lines: {len(big)}")
    for n, p in big:
        print(f"  {n:5d}  {p.relative_to(root)}")
    print(f"functions over {FUNCTION_LINES} lines: {len(long_functions)}")
    for size, where in sorted(long_functions, reverse=True):
        print(f"  {size:5d}  {where}")
    flat = []
    for directory in {p.parent for p in modules}:
        names = [p.stem for p in directory.glob("*.py") if "_" in p.stem]
        prefixes = Counter(n.split("_", 1)[0] for n in names)
        flat += [f"{directory.relative_to(root)}/{k}_*" for k, c in prefixes.items() if c >= 3]
    print(f"flat prefix groups (3+ modules): {len(flat)}")
    for group in sorted(flat):
        print(f"  {group}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))
