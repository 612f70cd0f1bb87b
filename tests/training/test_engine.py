"""The training engine: determinism, resume after a hard kill, NaN guard, decoder fine-tuning."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from gatedvae.training.checkpoint import load_model, save_model

from gatedvae.training.config import PAIR_METHODS, TrainConfig

from gatedvae.training.fit import TrainingDiverged, finetune_decoder, train
from gatedvae.training.objectives import BetaVAE, OBJECTIVES, register_objective


def _data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    images = (rng.random((n, 16, 16)) < 0.2).astype(np.uint8)
    groups = np.stack([rng.integers(0, 4, n), rng.integers(0, 8, n)], axis=1)
    return images, groups


def _cfg(**kw):
    base = dict(hidden=16, latent_dim=4, partitions=[2, 2], epochs=3, batch_size=64, lr=1e-3,
                image_size=16, seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("gated", [True, False])
def test_seeded_runs_repeat_exactly(tmp_path, gated):
    images, groups = _data()
    a = train(images, groups, _cfg(gated=gated), checkpoint_dir=tmp_path / "a", progress=False)
    b = train(images, groups, _cfg(gated=gated), checkpoint_dir=tmp_path / "b", progress=False)
    c = train(images, groups, _cfg(gated=gated, seed=1), checkpoint_dir=tmp_path / "c", progress=False)
    assert _same(_weights(a.model), _weights(b.model))
    assert not _same(_weights(a.model), _weights(c.model))
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    assert not (tmp_path / "a").exists()  # the finished run's checkpoint is cleaned up


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from gatedvae.training.config import TrainConfig
    from gatedvae.training.fit import train
    images, groups = np.load(sys.argv[1]), np.load(sys.argv[2])
    cfg = TrainConfig(hidden=16, latent_dim=4, partitions=[2, 2], epochs=4, batch_size=64,
                      lr=1e-3, image_size=16, seed=0, device="cpu")
    def die(epoch, row):
        if epoch == int(sys.argv[4]):
            os.kill(os.getpid(), signal.SIGKILL)
    train(images, groups, cfg, checkpoint_dir=sys.argv[3], progress=False, on_epoch_end=die)
""")


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    images, groups = _data()
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "groups.npy", groups)
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    ckpt = tmp_path / "ckpt"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "images.npy"),
                           str(tmp_path / "groups.npy"), str(ckpt), "2"], capture_output=True)
    assert proc.returncode == -9  # SIGKILL, right after epoch 2's checkpoint
    state = torch.load(ckpt / "last.pt", weights_only=False)
    assert state["epoch"] == 2

    cfg = _cfg(epochs=4)
    resumed = train(images, groups, cfg, checkpoint_dir=ckpt, progress=False)
    straight = train(images, groups, cfg, checkpoint_dir=tmp_path / "straight", progress=False)
    assert _same(_weights(resumed.model), _weights(straight.model))
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]


def test_checkpoint_of_another_config_is_ignored(tmp_path, capsys):
    images, groups = _data()
    ckpt = tmp_path / "ckpt"
    with pytest.raises(SystemExit):
        train(images, groups, _cfg(epochs=2), checkpoint_dir=ckpt, progress=False,
              on_epoch_end=lambda e, r: (_ for _ in ()).throw(SystemExit()) if e == 1 else None)
    assert (ckpt / "last.pt").exists()
    other = train(images, groups, _cfg(epochs=2, lr=5e-4), checkpoint_dir=ckpt, progress=False)
    assert "ignoring" in capsys.readouterr().out
    assert len(other.history) == 2


class _NaNInEpochTwo(BetaVAE):
    """A real registered objective that turns NaN after 8 steps (one epoch of 512 / 64)."""

    calls = 0

    def __call__(self, mu, logvar, z, generator=None):
        type(self).calls += 1
        total, parts = super().__call__(mu, logvar, z, generator)
        return (total * float("nan") if type(self).calls > 8 else total), parts


@pytest.fixture
def nan_objective():
    """Registered for one test only, so other tests looping over OBJECTIVES never see it."""
    register_objective("nan_in_epoch_two")(_NaNInEpochTwo)
    _NaNInEpochTwo.calls = 0
    yield "nan_in_epoch_two"
    OBJECTIVES.pop("nan_in_epoch_two")


def test_nan_loss_stops_with_last_good_checkpoint(tmp_path, nan_objective):
    images, groups = _data()
    ckpt = tmp_path / "ckpt"
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 1 .*last good checkpoint"):
        train(images, groups, _cfg(objective=nan_objective, objective_params={"beta": 4.0}),
              checkpoint_dir=ckpt, progress=False)
    state = torch.load(ckpt / "last.pt", weights_only=False)
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values()
                                       if v.is_floating_point())


def test_finetuning_changes_only_the_decoder(tmp_path):
    images, groups = _data()
    cfg = _cfg(epochs=1)
    model = train(images, groups, cfg, checkpoint_dir=tmp_path / "t", progress=False).model
    before = _weights(model)
    finetune_decoder(model, images, cfg, epochs=2, lr=1e-3, checkpoint_dir=tmp_path / "f",
                     progress=False)
    after = _weights(model)
    encoder_keys = {f"encoder.{k}" for k in model.encoder.state_dict()}
    assert encoder_keys and all(torch.equal(before[k], after[k]) for k in encoder_keys)  # incl. BatchNorm stats
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert all(p.requires_grad for p in model.parameters())


def test_save_and_load_round_trip(tmp_path):
    images, groups = _data()
    cfg = _cfg(epochs=1)
    model = train(images, groups, cfg, checkpoint_dir=tmp_path / "t", progress=False).model
    save_model(tmp_path / "m.pt", model, cfg, history=[1])
    loaded, cfg2, extra = load_model(tmp_path / "m.pt")
    assert cfg2 == cfg and extra["history"] == [1]
    assert _same(_weights(loaded), _weights(model))


@pytest.mark.parametrize("gated", [True, False])
def test_bf16_runs_repeat_exactly_and_differ_from_fp32(tmp_path, gated):
    """Same seed, same bytes in bf16 too; and bf16 is really another arithmetic than fp32."""
    images, groups = _data()
    runs = [train(images, groups, _cfg(gated=gated, precision=p), checkpoint_dir=tmp_path / str(i),
                  progress=False) for i, p in enumerate(["bf16", "bf16", "fp32"])]
    assert _same(_weights(runs[0].model), _weights(runs[1].model))
    assert not _same(_weights(runs[0].model), _weights(runs[2].model))
    # close, though: the losses of the two arithmetics agree to a fraction of a percent
    assert runs[0].history[-1]["loss"] == pytest.approx(runs[2].history[-1]["loss"], rel=0.01)


def test_a_loaded_model_keeps_its_precision(tmp_path):
    images, groups = _data()
    cfg = _cfg(epochs=1, precision="bf16")
    model = train(images, groups, cfg, checkpoint_dir=tmp_path / "t", progress=False).model
    save_model(tmp_path / "m.pt", model, cfg)
    loaded, cfg2, _ = load_model(tmp_path / "m.pt")
    assert cfg2.precision == loaded.precision == "bf16"
    x = torch.from_numpy(images[:8]).float().unsqueeze(1)
    assert torch.equal(loaded.eval().encode(x)[0], model.cpu().eval().encode(x)[0])


def test_dvclive_log_has_one_row_per_epoch(tmp_path):
    images, groups = _data()
    train(images, groups, _cfg(epochs=3), checkpoint_dir=tmp_path / "t", log_dir=tmp_path / "log",
          progress=False)
    rows = (tmp_path / "log" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:2] == ["step", "loss"] and len(rows) == 4


@pytest.mark.parametrize("kw,field", [
    (dict(partitions=[2, 3]), "partitions"), (dict(objective="vqvae"), "objective"),
    (dict(objective_params={"beta": -1}), "objective_params"), (dict(batch_size=0), "batch_size"),
    (dict(precision="fp8"), "precision"), (dict(precision="tf32"), "precision"),  # tf32: CUDA only
])
def test_invalid_config_is_refused_before_training(tmp_path, kw, field):
    images, groups = _data()
    with pytest.raises(ValueError, match=field):
        train(images, groups, _cfg(**kw), checkpoint_dir=tmp_path, progress=False)


def test_batch_larger_than_data_is_refused(tmp_path):
    images, groups = _data(n=32)
    with pytest.raises(ValueError, match="larger than the data"):
        train(images, groups, _cfg(), checkpoint_dir=tmp_path, progress=False)


def test_factor_vae_resumes_with_its_discriminator_state(tmp_path):
    images, groups = _data()
    cfg = _cfg(epochs=3, objective="factor_vae",
               objective_params={"gamma": 10.0, "disc_hidden": 16, "disc_layers": 2})

    def stop_after_two(epoch, row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(images, groups, cfg, checkpoint_dir=tmp_path / "ckpt", progress=False,
              on_epoch_end=stop_after_two)
    resumed = train(images, groups, cfg, checkpoint_dir=tmp_path / "ckpt", progress=False)
    straight = train(images, groups, cfg, checkpoint_dir=tmp_path / "straight", progress=False)
    assert [r["discriminator"] for r in resumed.history] == [r["discriminator"] for r in straight.history]
    assert _same(_weights(resumed.model), _weights(straight.model))


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_finetuning_repeats_exactly_for_every_objective(tmp_path, objective):
    images, groups = _data()
    cfg = _cfg(epochs=1, objective=objective, gated=objective not in PAIR_METHODS,
               pair_sampler="k_factors" if objective == "k_gvae" else "partition",
               objective_params={"disc_hidden": 8, "disc_layers": 1} if objective == "factor_vae" else {})
    model = train(images, groups, cfg, checkpoint_dir=tmp_path / "t", progress=False).model
    save_model(tmp_path / "m.pt", model, cfg)
    runs = []
    for attempt in range(2):
        loaded, _, _ = load_model(tmp_path / "m.pt")
        result = finetune_decoder(loaded, images, cfg, epochs=1, lr=1e-3,
                                  checkpoint_dir=tmp_path / f"f{attempt}", progress=False)
        runs.append((result.history, _weights(result.model)))
    assert runs[0][0] == runs[1][0] and _same(runs[0][1], runs[1][1])
