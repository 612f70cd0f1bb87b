"""Every key params.yaml may hold: a misspelt or unknown key is an error with a did-you-mean,
never a setting quietly ignored (`learning_rate: 0.5` beside the `lr` the code reads).

The tree mirrors params.yaml. A leaf (VALUE) is any value: its type and range are the dataset
rules' to check (dsprites/config.py, faces/config.py, studies/config.py, all run by
gatedvae.validate). `Named` is a mapping whose keys are the user's own names (partitions,
recipes) or one of a fixed set (regularisers). No torch import.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable

from gatedvae.faces.spec import SyntheticConfig
from gatedvae.params import ParamError
from gatedvae.training.config import OBJECTIVE_DEFAULTS, REMEDIES

VALUE = "<value>"  # a leaf


@dataclass(frozen=True)
class Named:
    """A mapping of names (any name, or one of `names`) to values shaped like `value(name)`."""
    value: Callable[[str], Any] = lambda name: VALUE
    names: tuple[str, ...] | None = None


def leaves(*names: str) -> dict:
    return {name: VALUE for name in names}


EVALUATE = leaves("n_train", "n_test", "seed", "lasso_alpha", "rf_trees", "rf_depth")

TREE: dict = {
    "compute": leaves("threads"),
    "dsprites": {
        "acquire": leaves("source", "n_images", "seed", "path", "url", "md5", "download_dir"),
        "pairs": {"partitions": Named()},
        "sweep": leaves("models", "seeds"),
        "baselines": leaves("methods", "seeds", "pair_sampler", "pair_k"),
        "net": leaves("name", "hidden", "latent_dim", "partition_sizes"),
        "train": leaves("epochs", "batch_size", "lr", "gate_regulariser", "partition_order",
                        "target_noise", "device", "precision"),
        "objectives": Named(lambda model: leaves(*OBJECTIVE_DEFAULTS[model]),
                            names=tuple(OBJECTIVE_DEFAULTS)),
        "finetune": leaves("epochs", "lr"),
        "evaluate": {**EVALUATE, **leaves("gbt_n_train", "gbt_n_test")},
    },
    "studies": {
        "epochs": VALUE,
        "beta_sweep": leaves("betas", "seeds"),
        "noise": leaves("fractions", "seeds"),
        "faces_clusters": leaves("counts", "seeds", "epochs"),
        "curve": leaves("epochs", "hidden", "seeds"),
    },
    "faces": {
        "acquire": {**leaves("source", "path", "download_dir", "url_template"),
                    "synthetic": leaves(*(f.name for f in fields(SyntheticConfig)))},
        "align": leaves("image_set", "size", "face_scale", "min_eye_distance", "max_residual", "workers"),
        "greyscale": leaves("sheet_rows", "sheet_cols"),
        "features": {"extractor": VALUE, "openface": leaves("csv", "min_confidence"),
                     "synthetic": leaves("pose_noise_deg", "au_noise", "failure_rate", "seed")},
        "cluster": leaves("pose_clusters", "expression_clusters", "min_mean_size", "seed", "algorithm",
                          "n_init", "batch_size", "merge_singletons", "expression_aus"),
        "train": leaves("net", "hidden", "partition_sizes", "objective", "objective_params",
                        "gate_regulariser", "partition_order", "target_noise", "epochs", "batch_size",
                        "lr", "seed", "device", "precision"),
        "recipes": Named(lambda recipe: leaves(*REMEDIES)),
        "study": leaves("runs", "seeds"),
        "main_runs": VALUE,
        "finetune": leaves("epochs", "lr"),
        "evaluate": {**EVALUATE, **leaves("traversal_images", "traversal_steps", "traversal_range",
                                          "traversal_max_dims")},
    },
}


def nearest(key: str, known: list[str]) -> list[str]:
    """The known key a typo most likely meant: a close spelling, or one that abbreviates the
    words of `key` (learning_rate -> lr)."""
    initials = "".join(word[:1] for word in key.split("_"))
    return difflib.get_close_matches(key, known, n=1, cutoff=0.6) or \
        [k for k in known if "_" in key and k == initials][:1]


def unknown_keys(params: dict, tree: Any = TREE, prefix: str = "") -> list[str]:
    """One line per key that the schema does not know (with the nearest known key when one is
    close) or per section that is not a mapping; empty when the file's shape is right."""
    if tree is VALUE:
        return []
    where = prefix.rstrip(".")
    if not isinstance(params, dict):
        return [f"`{where}` must be a mapping, got {params!r}"] if params is not None else []
    known: Iterable[str] | None
    if isinstance(tree, Named):
        known, child = tree.names, tree.value
    else:
        known, child = tree, tree.get
    problems = []
    for key, value in params.items():
        if known is not None and key not in known:
            near = nearest(str(key), list(known))
            hint = f"; did you mean `{prefix}{near[0]}`?" if near else f"; known here: {sorted(known)}"
            problems.append(f"unknown key `{prefix}{key}`{hint}")
            continue
        problems += unknown_keys(value, child(key), f"{prefix}{key}.")
    return problems


def check_keys(params: dict, *, file: str = "params.yaml") -> None:
    """Every key known, else one error listing them all."""
    problems = unknown_keys(params)
    if problems:
        raise ParamError(f"{file}: " + "\n  ".join(
            problems if len(problems) == 1 else [f"{len(problems)} problems:", *problems])
            + "\n(a key the code does not read would be ignored, so it is refused)")
