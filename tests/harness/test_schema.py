"""One params schema, checked whole (gatedvae.validate): unknown keys with a did-you-mean,
strict booleans, net names, devices, study lists and run names; every message names the key.
The check stage exits 2 and writes nothing on a refused value."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gatedvae import devices
from gatedvae.errors import StageError
from gatedvae.params import ParamError
from gatedvae.schema import nearest, unknown_keys
from gatedvae.validate import CHECKED, check_params

ROOT = Path(__file__).resolve().parents[2]


def test_committed_params_and_every_scale_pass(params):
    check_params(params)
    for scale in sorted((ROOT / "configs/scales").glob("*.yaml")):
        assert unknown_keys(yaml.safe_load(scale.read_text())) == [], scale.name


def test_the_schema_knows_exactly_the_committed_keys(params):
    """No key of the schema is missing from params.yaml (a dead entry would accept a key no code
    reads), and params.yaml holds none the schema lacks."""
    from gatedvae.schema import TREE, Named, VALUE

    def paths(tree, node, prefix=""):
        if tree is VALUE or isinstance(tree, Named):
            return {prefix.rstrip(".")}
        return set().union(*(paths(tree[k], node.get(k, {}) if isinstance(node, dict) else {},
                                   f"{prefix}{k}.") for k in tree))

    def present(node, prefix=""):
        return {prefix.rstrip(".")} if not isinstance(node, dict) else \
            {prefix.rstrip(".")} | set().union(*(present(v, f"{prefix}{k}.") for k, v in node.items()))

    committed = present(dict(params))
    missing = {key for key in paths(TREE, params) if key not in committed}
    assert not missing, f"schema keys absent from params.yaml: {sorted(missing)}"


@pytest.mark.parametrize("edit,key,says", [
    # silently wrong before: bool("false") is True
    (lambda p: p["dsprites"]["train"].update(gate_regulariser="false"), "dsprites.train.gate_regulariser",
     "without quotes"),
    (lambda p: p["faces"]["train"].update(gate_regulariser="no"), "faces.train.gate_regulariser", "true or false"),
    (lambda p: p["faces"]["cluster"].update(merge_singletons=1), "faces.cluster.merge_singletons", "true or false"),
    # silently ignored before
    (lambda p: p["dsprites"]["train"].update(learning_rate=0.5), "dsprites.train.learning_rate",
     "did you mean `dsprites.train.lr`"),
    (lambda p: p.update(dsprties={}), "dsprties", "did you mean `dsprites`"),
    (lambda p: p["faces"]["recipes"]["kl_warmup"].update(kl_warmpu=0.5), "faces.recipes.kl_warmup.kl_warmpu",
     "did you mean `faces.recipes.kl_warmup.kl_warmup`"),
    (lambda p: p["dsprites"]["objectives"].update(beta_vea={"beta": 1.0}), "dsprites.objectives.beta_vea",
     "did you mean `dsprites.objectives.beta_vae`"),
    (lambda p: p["faces"].update(train=3), "faces.train", "must be a mapping"),
    # removed a study from the DAG without a word before
    (lambda p: p["studies"]["beta_sweep"].update(betas=[]), "studies.beta_sweep.betas", "non-empty list"),
    (lambda p: p["studies"]["noise"].update(fractions=[0.0, 1.5]), "studies.noise.fractions", "[0, 1]"),
    (lambda p: p["studies"]["faces_clusters"].update(counts=[16, 16]), "studies.faces_clusters.counts", "twice"),
    (lambda p: p["studies"]["faces_clusters"].update(epochs=1), "studies.faces_clusters.epochs",
     "ungated_warmup_epochs"),
    (lambda p: p["studies"]["curve"].update(epochs=[0, 6]), "studies.curve.epochs", "[1, inf]"),
    (lambda p: p["studies"]["curve"].update(hidden=2.5), "studies.curve.hidden", "integer"),
    # tracebacks before
    (lambda p: p["dsprites"]["net"].update(name="mpl"), "dsprites.net.name", "got 'mpl'"),
    (lambda p: p["faces"]["train"].update(net="cnv"), "faces.train.net", "got 'cnv'"),
    (lambda p: p["dsprites"]["train"].update(device="gpu"), "dsprites.train.device", "cuda:N"),
    # no GPU 99 on any machine these tests run on, CPU-only torch or not
    (lambda p: p["dsprites"]["train"].update(device="cuda:99"), "dsprites.train.device", "asks for"),
    (lambda p: p["faces"]["train"].update(device="cuda:99"), "faces.train.device", "asks for"),
    (lambda p: p["faces"]["main_runs"].update(runs=["gated-kl_warmpu", "ungated-faithful"]),
     "faces.main_runs.runs", ""),
    (lambda p: p["faces"]["study"].update(runs=["gated-faithful", "ungated-faithful"]), "faces.main_runs.runs",
     "faces.study.runs"),
    (lambda p: p["faces"]["train"].update(seed=7), "faces.train.seed", "faces.main_runs.seeds"),
    # the section the schema leaves to faces/config.py: its shape and its keys are checked there
    (lambda p: p["faces"].update(main_runs=["gated-self_target_warmup", "ungated-faithful"]), "faces.main_runs",
     "must be a mapping"),
    (lambda p: p["faces"]["main_runs"].update(epoch=15), "faces.main_runs",
     "did you mean `faces.main_runs.epochs`"),
    (lambda p: p["faces"]["main_runs"].pop("seeds"), "faces.main_runs", "lacks ['seeds']"),
    (lambda p: p["faces"]["main_runs"].update(seeds=[0, 0]), "faces.main_runs.seeds", "distinct"),
    (lambda p: p["faces"]["main_runs"].update(epochs=0), "faces.main_runs.epochs", ""),
    (lambda p: p["faces"]["main_runs"].update(epochs=1), "faces.main_runs.epochs", "ungated_warmup_epochs"),
])
def test_each_refused_value_names_its_key(params, edit, key, says):
    bad = copy.deepcopy(params)
    edit(bad)
    with pytest.raises(ParamError) as refused:
        check_params(bad)
    assert f"`{key}`" in str(refused.value) and says in str(refused.value)


def test_every_unknown_key_is_listed_at_once(params):
    bad = copy.deepcopy(params)
    bad["dsprites"]["train"]["learning_rate"] = 0.5
    bad["faces"]["evaluate"]["n_tset"] = 5
    with pytest.raises(ParamError, match="2 problems") as refused:
        check_params(bad)
    assert "`faces.evaluate.n_test`" in str(refused.value)


def test_nearest_key():
    assert nearest("learning_rate", ["lr", "epochs"]) == ["lr"]
    assert nearest("epoch", ["lr", "epochs"]) == ["epochs"]
    assert nearest("colour", ["lr", "epochs"]) == []


def test_net_names_are_the_registered_nets():
    from gatedvae.training.config import NET_NAMES
    from gatedvae.training.models import NETS

    built_in = {name for name, cls in NETS.items() if cls.__module__.startswith("gatedvae.training.models")}
    assert set(NET_NAMES) == built_in  # (tests may register nets of their own)


def test_cuda_on_a_cpu_torch_build_is_refused_without_importing_torch():
    version, cuda = devices.torch_build()
    assert version is not None
    if cuda is None:  # this machine's CPU wheel
        assert "built for the CPU only" in devices.device_problem("cuda")
    assert devices.device_problem("cpu") is None and devices.device_problem("auto") is None
    assert "asks for GPU 99" in (devices.device_problem("cuda:99") or "asks for GPU 99") or cuda is None


def test_the_device_check_can_be_skipped_where_gpu_workers_train(monkeypatch):
    monkeypatch.setenv(devices.SKIP_ENV, "1")
    assert devices.device_problem("cuda:99") is None


def test_training_on_an_absent_cuda_device_is_a_stage_error():
    """The guard behind the params check (GATEDVAE_SKIP_DEVICE_CHECK, or a stage run by hand)."""
    from gatedvae.training.infer import resolve_device

    with pytest.raises(StageError, match="'cuda:99' asked for"):
        resolve_device("cuda:99")


def test_visible_devices_narrow_the_count(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert devices.visible_gpus() == 0


def _check_stage(tmp_path, params_text):
    (tmp_path / "params.yaml").write_text(params_text)
    return subprocess.run([sys.executable, str(ROOT / "stages/check_params.py"), "--params",
                           str(tmp_path / "params.yaml"), "--out", str(tmp_path / "checked.txt")],
                          capture_output=True, text=True, cwd=ROOT)


def test_check_stage_writes_fixed_bytes_and_refuses_with_exit_2(tmp_path):
    text = (ROOT / "params.yaml").read_text()
    done = _check_stage(tmp_path, text)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "checked.txt").read_text() == CHECKED
    (tmp_path / "checked.txt").unlink()
    refused = _check_stage(tmp_path, text.replace("lr: 1.0e-4", 'lr: "fast"', 1))
    assert refused.returncode == 2
    assert "`dsprites.train.lr`" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "checked.txt").exists()


def test_params_check_imports_no_torch():
    code = ("import sys; from gatedvae import params as P; from gatedvae.validate import check_params; "
            f"check_params(P.load({str(ROOT / 'params.yaml')!r})); assert 'torch' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
