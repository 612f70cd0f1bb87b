"""One member of a dSprites study: beta-VAE trained with one setting changed, then evaluated.

beta_sweep: the KL weight beta takes the member's value (Quantifying-disentanglement style).
noise: a fraction (the member's value) of the gated pair targets is replaced by random images.
"""

from __future__ import annotations

from gatedvae import inputs
from gatedvae.atomic import save_json
from gatedvae.dsprites import config, spec
from gatedvae.params import check, number
from gatedvae.studies.config import check_studies
from gatedvae.training.config import TrainConfig

STUDIES = ("beta_sweep", "noise")


def member_config(params, *, study: str, value: float, gating: str, seed: int) -> TrainConfig:
    """The dSprites beta-VAE config with the study's setting set to value, for studies.epochs."""
    check(study in STUDIES, "study", f"must be one of {STUDIES}, got {study!r}")
    cfg = config.train_config(params, model="beta_vae", gating=gating, seed=seed)
    cfg.epochs = number(params, "studies.epochs", integer=True, positive=True)
    if study == "beta_sweep":
        check(value >= 0, "studies.beta_sweep.betas", f"must be >= 0, got {value}")
        cfg.objective_params = {**cfg.objective_params, "beta": value}
    else:
        check(0.0 <= value <= 1.0, "studies.noise.fractions", f"must lie in [0, 1], got {value}")
        cfg.target_noise = value
    return cfg


def member_summary(metrics: dict) -> dict:
    """The flat row of a member's metrics that the study tables keep."""
    row = {}
    for reg in ("lasso", "rf"):
        row[f"{reg}_disentanglement"] = metrics[reg]["disentanglement"]["avg"]
        row[f"{reg}_completeness"] = metrics[reg]["completeness"]["avg"]
        row[f"{reg}_informativeness"] = metrics[reg]["informativeness"]["avg"]
        row[f"{reg}_placement"] = metrics[reg]["placement"]["mean"]
    row["beta_vae_metric"] = metrics["beta_vae_metric"]["eval_accuracy"]
    row["factor_vae_metric"] = metrics["factor_vae_metric"]["eval_accuracy"]
    row["mig"] = metrics["mig"]["mig"]
    row["sap"] = metrics["sap"]["sap"]
    row["modularity"] = metrics["modularity_explicitness"]["modularity"]
    row["explicitness"] = metrics["modularity_explicitness"]["explicitness_test"]
    row["test_recon_bce"] = metrics["test"]["recon_bce"]
    row["test_elbo"] = metrics["test"]["elbo"]
    return row


def member(params, *, study: str, value: float, gating: str, seed: int, images: str, factors: str,
           groups: str, out: str) -> None:
    """Train and evaluate one member; its metrics row goes to `out` (JSON)."""
    from gatedvae.evaluation.evaluate import evaluate_model
    from gatedvae.training.fit import train

    data = inputs.images(images)
    config.check_dsprites(params, n_images=len(data))
    check_studies(params)
    cfg = member_config(params, study=study, value=value, gating=gating, seed=seed)
    pair_index = inputs.table(groups).to_numpy() if cfg.gated else None
    name = f"{study}-{value:g}-{gating}-{seed}"
    result = train(data, pair_index, cfg, checkpoint_dir=f"checkpoints/studies/{name}")
    names = list(spec.FACTOR_NAMES)
    metrics, _ = evaluate_model(result.model, data, inputs.table(factors)[names].to_numpy(),
                                pixel_max=cfg.pixel_max, partition_sizes=cfg.partitions,
                                intended=config.intended_partition(config.partitions(params)),
                                factor_names=names, settings=config.eval_settings(params),
                                gbt_dci=False)  # its tables leave it out: ~16 s a member
    summary = {"study": study, "value": value, "gating": gating, "seed": seed,
               "images_per_second": round(result.images_per_second, 1), **member_summary(metrics)}
    save_json(out, summary)
    print(summary)
