"""Which project modules a DVC stage runs that its `deps` do not declare.

DVC itself reads the DAG (matrix/foreach expanded, `${...}` resolved). In each stage's cmd we find
the Python entry points (`python path/to/script.py`, `python -m pkg.mod`) and follow their imports
statically with `ast`: every import statement anywhere in a file (lazy ones inside functions run
too), `from pkg import submodule`, relative imports, and each parent package's `__init__.py`.
Only this project's files count: the script's own folder (Python puts it first on sys.path, so
stages/ scripts import their siblings), or the working directory for `-m`, then src/. Anything
found in neither (stdlib, third party) is ignored. Imports by computed name
(`importlib.import_module(var)`) are invisible to this; `if TYPE_CHECKING:` imports are counted.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from functools import lru_cache
from pathlib import Path

PYTHON = re.compile(r"python(\d+(\.\d+)*)?")
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")"}


def entry_points(cmd: str | list[str]) -> list[tuple[str, str]]:
    """('script', path) or ('module', dotted name) for each `python ...` in a stage's cmd."""
    found = []
    for line in [cmd] if isinstance(cmd, str) else cmd:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = iter(lexer)
        for word in words:
            if not PYTHON.fullmatch(os.path.basename(word)):
                continue
            for arg in words:  # the interpreter's options, then the script or -m module
                if arg in SEPARATORS or arg == "-c":
                    break
                if arg == "-m":
                    found.append(("module", next(words, "")))
                    break
                if arg in ("-W", "-X"):
                    next(words, None)
                elif not arg.startswith("-"):
                    found.append(("script", arg))
                    break
    return found


@lru_cache(maxsize=None)
def _imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """(module, imported names, level) for every import statement in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, (), 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", tuple(a.name for a in node.names), node.level))
    return out


def _find(name: str, roots: tuple[Path, ...]) -> dict[Path, str]:
    """The files `import name` executes (each package's __init__.py, then the module), if ours."""
    parts, files, search = name.split("."), {}, list(roots)
    for i, part in enumerate(parts):
        dotted = ".".join(parts[: i + 1])
        for d in search:
            if (d / part / "__init__.py").is_file():  # a regular package
                files[d / part / "__init__.py"] = dotted
                search = [d / part]
                break
            if (d / f"{part}.py").is_file():  # a module: it has no submodules
                files[d / f"{part}.py"] = dotted
                search = []
                break
        else:  # a namespace package (folders without __init__.py), or not ours
            search = [d / part for d in search if (d / part).is_dir()]
        if not search:
            break
    return files


def _closure(todo: dict[Path, str], roots: tuple[Path, ...]) -> set[Path]:
    """The files in todo (path: module name) and all they import, found on roots."""
    seen: dict[Path, str] = {}
    while todo:
        path, name = todo.popitem()
        seen[path] = name
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for module, names, level in _imports(path):
            if level:  # relative to this module's package; a script run as a file has none
                if name == "__main__" or level - 1 > len(package):
                    continue
                module = ".".join(package[: len(package) - level + 1] + ([module] if module else []))
            for wanted in [module] + [f"{module}.{n}" for n in names if n != "*"]:
                todo.update((f, n) for f, n in _find(wanted, roots).items() if f not in seen)
    return set(seen)


def project_modules(cmd: str | list[str], wdir: Path, root: Path) -> set[Path]:
    """Every project file the cmd's Python entry points run, by the transitive closure of imports."""
    files: set[Path] = set()
    for kind, target in entry_points(cmd):
        if kind == "script":  # sys.path[0] is the script's folder
            script = (wdir / target).resolve()
            roots = (script.parent, root / "src")
            todo = {script: "__main__"} if script.is_file() else {}
        else:  # `python -m`: sys.path[0] is the working directory
            roots = (wdir, root / "src")
            todo = _find(target, roots)
            main = [f.parent / "__main__.py" for f, n in todo.items() if n == target and f.name == "__init__.py"]
            if main and main[0].is_file():  # `python -m package` runs its __main__.py
                todo[main[0]] = f"{target}.__main__"
        files |= _closure(todo, roots)
    return {f for f in files if f.is_relative_to(root)}


def uncovered(root: str | Path) -> dict[str, set[str]]:
    """Per stage (DVC addressing), the repo-relative project modules it runs that no dep covers."""
    from dvc.repo import Repo

    root = Path(root).resolve()
    result = {}
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            if not stage.cmd:
                continue
            dvcfile = Path(stage.path).resolve().relative_to(root).as_posix()
            name = getattr(stage, "name", None)
            address = name if dvcfile == "dvc.yaml" else f"{dvcfile}:{name}" if name else dvcfile
            deps = [Path(os.path.relpath(d.fs_path, root)).as_posix() for d in stage.deps]
            modules = {p.relative_to(root).as_posix()
                       for p in project_modules(stage.cmd, Path(stage.wdir), root)}
            gaps = {m for m in modules if not any(d == "." or m == d or m.startswith(d + "/") for d in deps)}
            if gaps:
                result[address] = gaps
    return result
