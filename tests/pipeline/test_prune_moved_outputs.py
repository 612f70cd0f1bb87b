"""`gatedvae prune` on a real DVC project: an output that dvc.yaml moved (its stage now writes it
elsewhere) is a ghost too, found through the stage's own lock entry, removed with the line DVC
wrote for it in the .gitignore beside it and the folder it leaves empty; current outputs stay."""

import yaml

from dvc_project import BIN, dvc, run

MAKE = "import pathlib, sys\nout = pathlib.Path(sys.argv[1])\nout.parent.mkdir(parents=True, exist_ok=True)\nout.write_text('x')\n"


def _write_dvc_yaml(repo, out):
    (repo / "make.py").write_text(MAKE)
    stage = {"cmd": f"python make.py {out}", "deps": ["make.py"], "outs": [out]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"make": stage}}))


def test_prune_removes_an_output_its_stage_no_longer_declares(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    run(repo, "git", "init", "-q", "-b", "main")
    dvc(repo, "init", "-q")
    _write_dvc_yaml(repo, "models/old/a.txt")
    dvc(repo, "repro")
    assert (repo / "models/old/a.txt").exists() and (repo / "models/old/.gitignore").read_text() == "/a.txt\n"

    _write_dvc_yaml(repo, "models/new/a.txt")   # the stage's output moved; not re-run yet
    listed = run(repo, str(BIN / "gatedvae"), "prune", "--dry-run").stdout
    assert "output      models/old/a.txt" in listed and (repo / "models/old/a.txt").exists()

    run(repo, str(BIN / "gatedvae"), "prune")
    assert not (repo / "models/old").exists()     # the output, DVC's .gitignore line and the folder
    dvc(repo, "repro")
    assert (repo / "models/new/a.txt").read_text() == "x"
    assert "nothing to prune" in run(repo, str(BIN / "gatedvae"), "prune").stdout


def test_prune_keeps_the_other_lines_of_a_shared_gitignore(tmp_path):
    from gatedvae.pipeline import _forget_ignored

    folder = tmp_path / "models" / "run-0"
    folder.mkdir(parents=True)
    (folder / ".gitignore").write_text("/model.pt\n/finetuned.pt\n")
    (folder / "model.pt").write_text("kept")
    _forget_ignored(folder / "finetuned.pt", tmp_path)
    assert (folder / ".gitignore").read_text() == "/model.pt\n" and (folder / "model.pt").exists()
