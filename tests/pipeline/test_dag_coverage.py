"""Every project module a DVC stage runs is one of its deps (or inside one), so editing it reruns
the stage. tests/dag_imports.py does the work; here it is checked on a throwaway project first,
then run on this repository's dvc.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dag_imports import entry_points, project_modules, uncovered

ROOT = Path(__file__).resolve().parents[2]

TOY = {
    "params.yaml": "extras: [helper, other]\n",
    "dvc.yaml": """\
stages:
  run:
    matrix:
      extra: ${extras}
    cmd: python -u stages/run.py --extra ${item.extra}
    deps:
      - stages/run.py
      - stages/${item.extra}.py
      - src/toy/sub.py
  as_module:
    cmd:
      - python -m toy.cli --quiet
      - echo done
    deps:
      - src
  shell:
    cmd: echo no python here
""",
    "stages/run.py": """\
import json                      # stdlib
import os.path
import numpy as np               # third party

from helper import greet         # a sibling: the script's folder is on sys.path
from toy import sub, NAME        # sub is a submodule, NAME an attribute


def main():
    import toy.lazy              # runs when main() does
    from toy.nested import leaf
""",
    "stages/helper.py": "import logging\n\ndef greet():\n    pass\n",
    "stages/other.py": "import toy.unused\n",
    "src/toy/__init__.py": "NAME = 'toy'\n",
    "src/toy/sub.py": "from .rel import VALUE\n",
    "src/toy/rel.py": "import collections\nVALUE = 1\n",
    "src/toy/lazy.py": "",
    "src/toy/nested/__init__.py": "",
    "src/toy/nested/leaf.py": "from ..rel import VALUE\n",
    "src/toy/unused.py": "",
    "src/toy/cli.py": "from . import sub\n",
    "src/toy/__main__.py": "from toy.cli import sub\n",
}
RUN_CLOSURE = {"stages/run.py", "stages/helper.py", "src/toy/__init__.py", "src/toy/sub.py",
               "src/toy/rel.py", "src/toy/lazy.py", "src/toy/nested/__init__.py", "src/toy/nested/leaf.py"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    for rel, text in TOY.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, env=env)
    return root


def modules(cmd, root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in project_modules(cmd, root, root)}


def test_entry_points_of_a_cmd():
    assert entry_points("python -u -W ignore stages/a.py --x 1 && python3 -m pkg.mod;echo python") == [
        ("script", "stages/a.py"), ("module", "pkg.mod")]
    assert entry_points(["/usr/bin/python3.11 -X dev b.py", "python -c 'import c'", "make all"]) == [
        ("script", "b.py")]


def test_script_imports_siblings_submodules_lazy_and_relative(toy):
    # not stdlib, numpy, toy/unused.py (only other.py imports it), toy/cli.py
    assert modules("python stages/run.py", toy) == RUN_CLOSURE


def test_module_entry_points(toy):
    assert modules("python -m toy.cli", toy) == {"src/toy/__init__.py", "src/toy/cli.py",
                                                 "src/toy/sub.py", "src/toy/rel.py"}
    assert modules("python -m toy", toy) == {"src/toy/__init__.py", "src/toy/__main__.py",
                                             "src/toy/cli.py", "src/toy/sub.py", "src/toy/rel.py"}
    assert modules("python -m json.tool x.json", toy) == set()


def test_uncovered_per_resolved_matrix_stage(toy):
    not_declared = RUN_CLOSURE - {"stages/run.py", "stages/helper.py", "src/toy/sub.py"}
    assert uncovered(toy) == {"run@helper": not_declared,  # the folder `src` covers as_module
                              "run@other": not_declared | {"stages/helper.py"}}


def describe(gaps: dict[str, set[str]]) -> str:
    """The pairs grouped by stage; stages missing the same modules share one list."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for stage, missing in gaps.items():
        groups.setdefault(tuple(sorted(missing)), []).append(stage)
    lines = [f"{sum(map(len, gaps.values()))} (stage, module) pairs: {len(gaps)} stages in dvc.yaml "
             "run project modules that none of their deps cover (editing them does not rerun the stage)"]
    for missing, stages in groups.items():
        lines += ["", ", ".join(stages) + ":"] + [f"    {m}" for m in missing]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def gaps():
    return uncovered(ROOT)  # DVC's index load: once


def test_stages_declare_every_project_module_they_run(gaps):
    if gaps:
        pytest.fail(describe(gaps), pytrace=False)
