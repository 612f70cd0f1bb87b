"""A small real DVC project for the orchestration tests.

Stages: acquire -> train@{a,b}-0 (matrix, gpu) -> aggregate, plus `other` beside the training.
Each stage appends one JSON line (stage, start, end, CUDA_VISIBLE_DEVICES, pid) to the file
named by $TOY_RUNLOG, outside the repository, so tests see exactly which commands ran and when.
Outputs are deterministic, so a flow run and `dvc repro` can be compared byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

RUNLOG_HELPER = '''
import json, os, time

def record(stage, start):
    path = os.environ.get("TOY_RUNLOG")
    if path:
        line = json.dumps({"stage": stage, "start": start, "end": time.time(), "pid": os.getpid(),
                           "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")})
        with open(path, "a") as f:
            f.write(line + "\\n")
'''

SCRIPTS = {
    "acquire.py": '''
import time, yaml, os
from runlog import record
start = time.time()
p = yaml.safe_load(open("params.yaml"))["acquire"]
os.makedirs("data", exist_ok=True)
print(f"acquiring {p['n']} items")
open("data/raw.txt", "w").write("\\n".join(str(i * i) for i in range(p["n"])) + "\\n")
record("acquire", start)
''',
    "train.py": '''
import sys, time, yaml, os
from runlog import record
start = time.time()
model, seed = sys.argv[1], sys.argv[2]
p = yaml.safe_load(open("params.yaml"))["train"]
print(f"training {model} seed {seed} for {p['epochs']} epochs")
print(f"warning: {model} uses a toy optimiser", file=sys.stderr)
time.sleep(p["sleep"])
raw = open("data/raw.txt").read().split()
os.makedirs("models", exist_ok=True)
open(f"models/{model}-{seed}.txt", "w").write(f"{model} {seed} {p['epochs']} {sum(map(int, raw))}\\n")
record(f"train@{model}-{seed}", start)
''',
    "other.py": '''
import time, yaml
from runlog import record
start = time.time()
k = yaml.safe_load(open("params.yaml"))["other"]["k"]
open("data/other.txt", "w").write(str(k * len(open("data/raw.txt").read().split())) + "\\n")
record("other", start)
''',
    "aggregate.py": '''
import json, os, time
from runlog import record
start = time.time()
lines = [open(f"models/{m}-0.txt").read() for m in ("a", "b")]
open("data/agg.txt", "w").write("".join(lines))
os.makedirs("reports", exist_ok=True)
json.dump({"models": len(lines)}, open("reports/summary.json", "w"))
record("aggregate", start)
''',
    # Fails while $TOY_STATE/<name>.fail exists; counts its attempts in $TOY_STATE/<name>.n.
    # `<name>.fail` holding a number N means: fail the first N attempts only.
    "gate.py": '''
import os, sys, time
from runlog import record
start = time.time()
name = sys.argv[1]
state = os.environ["TOY_STATE"]
counter = os.path.join(state, name + ".n")
attempt = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(attempt))
flag = os.path.join(state, name + ".fail")
if os.path.exists(flag):
    limit = open(flag).read().strip()
    if not limit or attempt <= int(limit):
        print(f"{name}: attempt {attempt} hit a transient fault", flush=True)
        print(f"{name} failed: the answer was 41, expected 42", file=sys.stderr)
        sys.exit(3)
open(f"data/{name}.txt", "w").write(name + "\\n")
record(name, start)
''',
}

PARAMS = """\
acquire:
  n: 6
train:
  epochs: 2
  sleep: 1.5
other:
  k: 3
"""

DVC_YAML = """\
stages:
  acquire:
    cmd: python scripts/acquire.py
    deps:
      - scripts/acquire.py
    params:
      - acquire
    outs:
      - data/raw.txt
  train:
    matrix:
      model: [a, b]
      seed: ["0"]
    cmd: python scripts/train.py ${item.model} ${item.seed}
    deps:
      - scripts/train.py
      - data/raw.txt
    params:
      - train
    outs:
      - models/${item.model}-${item.seed}.txt
    meta:
      gpu: true
  other:
    cmd: python scripts/other.py
    deps:
      - scripts/other.py
      - data/raw.txt
    params:
      - other
    outs:
      - data/other.txt
  aggregate:
    cmd: python scripts/aggregate.py
    deps:
      - scripts/aggregate.py
      - models/a-0.txt
      - models/b-0.txt
    outs:
      - data/agg.txt
    metrics:
      - reports/summary.json:
          cache: false
"""

# Stages for the failure tests: `flaky` fails its first attempt, `broken` until its flag goes.
FAILURE_STAGES = """\
  flaky:
    cmd: python scripts/gate.py flaky
    deps:
      - scripts/gate.py
      - data/raw.txt
    outs:
      - data/flaky.txt
    meta:
      retries: 2
      retry_delay_seconds: 0
  broken:
    cmd: python scripts/gate.py broken
    deps:
      - scripts/gate.py
      - data/raw.txt
    outs:
      - data/broken.txt
  after_broken:
    cmd: python -c "open('data/after.txt', 'w').write(open('data/broken.txt').read())"
    deps:
      - data/broken.txt
    outs:
      - data/after.txt
"""

STAGES = ["acquire", "train@a-0", "train@b-0", "other", "aggregate"]
OUTPUTS = ["data/raw.txt", "models/a-0.txt", "models/b-0.txt", "data/other.txt", "data/agg.txt",
           "reports/summary.json"]


def sh(args: list[str], cwd: Path, env: dict | None = None, check: bool = True,
       timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return sh([sys.executable, "-m", "dvc", *args], root, env=env, check=check)


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return sh(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args], root)


def make_toy_repo(root: Path, extra_stages: str = "") -> Path:
    """git init + dvc init + the toy pipeline, committed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "scripts").mkdir()
    (root / "scripts" / "runlog.py").write_text(textwrap.dedent(RUNLOG_HELPER).lstrip())
    for name, text in SCRIPTS.items():
        (root / "scripts" / name).write_text(textwrap.dedent(text).lstrip())
    (root / "params.yaml").write_text(PARAMS)
    (root / "dvc.yaml").write_text(DVC_YAML + extra_stages)
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "toy pipeline")
    return root


def copy_workspace(src: Path, dst: Path) -> Path:
    """A full copy (git, DVC cache, outputs), as a second checkout of the same state."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


def read_runlog(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def dvc_status(root: Path, *args: str) -> dict:
    return json.loads(dvc(root, "status", "--json", *args).stdout or "{}")


def mtimes(root: Path, paths=OUTPUTS) -> dict[str, int]:
    return {p: (root / p).stat().st_mtime_ns for p in paths}
