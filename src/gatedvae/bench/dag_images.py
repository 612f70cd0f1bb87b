"""How many images the DAG's training stages train on, from the params (no torch, no data).

Per training stage of dvc.yaml: runs (its matrix) x epochs x images per epoch, where an epoch is
the engine's: N // batch_size full batches. Fine-tuning counts the same way (decoder only, so it
costs less per image than this count assumes). Evaluation (inference) is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from gatedvae.dsprites.spec import N_GRID
from gatedvae.params import get
from gatedvae.scales import SCALES_DIR, overlay

CELEBA_IMAGES = 202_599   # CelebA's images (an upper bound: alignment drops a few)


@dataclass
class StageImages:
    stage: str
    dataset: str        # dsprites | faces: the workload whose throughput it is divided by
    net: str
    runs: int
    epochs: int
    images_per_epoch: int

    @property
    def images(self) -> int:
        return self.runs * self.epochs * self.images_per_epoch


def images_per_epoch(n_images: int, batch_size: int) -> int:
    return (n_images // batch_size) * batch_size


def dsprites_images(params: dict) -> int:
    n = int(get(params, "dsprites.acquire.n_images"))
    return n if n > 0 else N_GRID  # 0: the full grid


def faces_images(params: dict) -> int:
    if get(params, "faces.acquire.source") == "synthetic":
        return int(get(params, "faces.acquire.synthetic.n_images"))
    return CELEBA_IMAGES


def training_images(params: dict) -> list[StageImages]:
    """One entry per training stage of the DAG (dvc.yaml's matrices)."""
    n = dsprites_images(params)
    mlp, batch = get(params, "dsprites.net.name"), int(get(params, "dsprites.train.batch_size"))
    per_epoch = images_per_epoch(n, batch)
    models, seeds = get(params, "dsprites.sweep.models"), get(params, "dsprites.sweep.seeds")
    main_runs = len(models) * 2 * len(seeds)  # x gated, un-gated
    study_epochs = int(get(params, "studies.epochs"))
    beta = get(params, "studies.beta_sweep")
    noise = get(params, "studies.noise")
    curve = get(params, "studies.curve")

    n_faces = faces_images(params)
    conv, face_batch = get(params, "faces.train.net"), int(get(params, "faces.train.batch_size"))
    face_epoch = images_per_epoch(n_faces, face_batch)
    clusters = get(params, "studies.faces_clusters")
    study, main = get(params, "faces.study"), get(params, "faces.main_runs")
    cluster_epochs = int(clusters["epochs"])
    return [
        StageImages("dsprites_train", "dsprites", mlp, main_runs, int(get(params, "dsprites.train.epochs")), per_epoch),
        StageImages("dsprites_finetune", "dsprites", mlp, main_runs, int(get(params, "dsprites.finetune.epochs")), per_epoch),
        StageImages("dsprites_beta_sweep", "dsprites", mlp, len(beta["betas"]) * 2 * len(beta["seeds"]),
                    study_epochs, per_epoch),
        StageImages("dsprites_noise_study", "dsprites", mlp, len(noise["fractions"]) * len(noise["seeds"]),
                    study_epochs, per_epoch),  # gated only
        StageImages("dsprites_curve", "dsprites", mlp, 2 * len(curve["seeds"]), max(curve["epochs"]),
                    per_epoch),  # at studies.curve.hidden, which may differ from the main matrix's
        StageImages("faces_train", "faces", conv, len(study["runs"]) * len(study["seeds"]),
                    int(get(params, "faces.train.epochs")), face_epoch),  # the recipe study
        StageImages("faces_main_train", "faces", conv, len(main["runs"]) * len(main["seeds"]),
                    int(main["epochs"]), face_epoch),
        StageImages("faces_finetune", "faces", conv, len(main["runs"]),
                    int(get(params, "faces.finetune.epochs")), face_epoch),
        StageImages("faces_cluster_study", "faces", conv, len(clusters["counts"]) * len(clusters["seeds"]),
                    cluster_epochs, face_epoch),  # gated only
        StageImages("faces_cluster_baseline", "faces", conv, len(clusters["seeds"]), cluster_epochs, face_epoch),
    ]


def images_per_dataset(stages: list[StageImages]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in stages:
        out[s.dataset] = out.get(s.dataset, 0) + s.images
    return out


def scaled_params(scale: str | None, params_path: str | Path = "params.yaml",
                  scales_dir: str | Path = SCALES_DIR) -> dict:
    """params.yaml with a scale's overlay set on it (what `gatedvae scale NAME` would write),
    without touching the file; scale None: params.yaml as it is."""
    params = yaml.safe_load(Path(params_path).read_text()) or {}
    if scale is None:
        return params
    for dotted, value in overlay(scale, Path(scales_dir)).items():
        node = params
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return params
