"""What one training run is: TrainConfig, and the regularisers' parameters. No torch import, so
that params can be validated (every stage does it first) without loading the training stack."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field

GATINGS = ("gated", "ungated")
NET_NAMES = ("mlp", "conv")  # the built-in nets params may name (a test keeps them registered)
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")  # gatedvae.devices checks CUDA is there
PARTITION_ORDERS = ("round_robin", "random")
PRECISIONS = ("fp32", "bf16", "tf32", "fp16")  # training/precision.py says what each does
CUDA_ONLY_PRECISIONS = ("tf32", "fp16")

# TrainConfig's remedies for posterior collapse (faces.recipes.<recipe> sets them)
REMEDIES = ("kl_warmup", "self_target_prob", "self_target_partitions", "ungated_warmup_epochs",
            "free_bits")

# Each regulariser's weights and their defaults (the classes in objectives.py use these);
# register_objective adds the defaults of any other regulariser.
OBJECTIVE_DEFAULTS: dict[str, dict[str, float]] = {
    "beta_vae": {"beta": 4.0},
    "info_vae": {"kl": 1.0, "mmd": 500.0, "sigma2": 0.0},
    "dip_vae_ii": {"kl": 1.0, "lambda_od": 250.0, "lambda_d": 250.0},
    "factor_vae": {"gamma": 35.0, "disc_hidden": 1000, "disc_layers": 6, "disc_lr": 1e-4},
    # the pair methods (training/weak.py): a beta-VAE ELBO on each image of a pair
    "ada_gvae": {"beta": 1.0},
    "ada_ml_vae": {"beta": 1.0},
    "group_gvae": {"beta": 1.0},
    "group_ml_vae": {"beta": 1.0},
    "k_gvae": {"beta": 1.0},
}
# Each pair method's (aggregation, rule for the shared dims): training/weak.py
PAIR_METHODS = {
    "ada_gvae": ("gvae", "adaptive"),            # Locatello et al. 2020's Ada-GVAE
    "ada_ml_vae": ("ml_vae", "adaptive"),        # ... and Ada-ML-VAE
    "group_gvae": ("gvae", "known_group"),       # GVAE with the shared factor group known
    "group_ml_vae": ("ml_vae", "known_group"),   # ML-VAE with the shared factor group known
    "k_gvae": ("gvae", "known_k"),               # GVAE with k (changed factors) known
}
PAIRS = "pairs"              # the gating label of a pair method's runs (beside gated, ungated)
PAIR_SAMPLERS = ("partition", "k_factors")
# parameters that are sizes, not weights: they must be >= 1
OBJECTIVE_SIZES = {"factor_vae": ("disc_hidden", "disc_layers")}


def objective_problems(name: str, params: dict) -> list[str]:
    """What is wrong with a regulariser's parameters (empty when they are valid)."""
    if name not in OBJECTIVE_DEFAULTS:
        return [f"unknown model {name!r}; known: {sorted(OBJECTIVE_DEFAULTS)}"]
    defaults = OBJECTIVE_DEFAULTS[name]
    unknown = set(params) - set(defaults)
    if unknown:
        return [f"{name}: unknown parameter(s) {sorted(unknown)}; expected {sorted(defaults)}"]
    out = []
    for key, value in {**defaults, **params}.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            out.append(f"{name}: `{key}` must be a number >= 0, got {value!r}")
        elif key in OBJECTIVE_SIZES.get(name, ()) and value < 1:
            out.append(f"{name}: `{key}` must be >= 1, got {value!r}")
    return out


@dataclass
class TrainConfig:
    net: str = "mlp"
    hidden: int = 256
    latent_dim: int = 8
    partitions: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    objective: str = "beta_vae"
    objective_params: dict = field(default_factory=dict)
    gated: bool = True
    gate_regulariser: bool = True
    partition_order: str = "round_robin"
    target_noise: float = 0.0
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-4
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"     # fp32 | bf16 | tf32 | fp16 (training/precision.py)
    pixel_max: int = 1
    image_size: int = 64
    # Remedies for posterior collapse (docs/faces.md "Remedies"); every one off by default.
    kl_warmup: float = 0.0      # the regulariser's weight rises linearly 0 -> 1 over this fraction of the steps
    self_target_prob: float = 0.0   # gated: the chance a step reconstructs the anchor itself ...
    self_target_partitions: list[int] = field(default_factory=list)  # ... with gradient through these
    ungated_warmup_epochs: int = 0  # gated: the first epochs are plain VAE steps (within `epochs`)
    free_bits: list[float] = field(default_factory=list)  # nats per partition the KL is not pushed below
    # The pair methods (objective in PAIR_METHODS): where their pairs come from
    pair_sampler: str = "partition"  # partition: the pair index (Gated-VAE's pairs) | k_factors (Locatello)
    pair_k: int = 1             # k_factors: the factors (partitions) a pair changes; 0 = drawn per pair

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for every invalid field; empty when the config is valid."""
        out = []
        if sum(self.partitions) != self.latent_dim:
            out.append(("partitions", f"sizes {self.partitions} sum to {sum(self.partitions)}, "
                                      f"not latent_dim = {self.latent_dim}"))
        if any(int(s) < 1 for s in self.partitions):
            out.append(("partitions", f"every partition needs at least one dim, got {self.partitions}"))
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            out.append(("device", f"must be auto, cpu, cuda or cuda:N, got {self.device!r}"))
        if self.objective not in OBJECTIVE_DEFAULTS:
            out.append(("objective", f"unknown model {self.objective!r}; known: {sorted(OBJECTIVE_DEFAULTS)}"))
        else:
            out += [("objective_params", p) for p in objective_problems(self.objective, self.objective_params)]
        if self.partition_order not in PARTITION_ORDERS:
            out.append(("partition_order", f"must be one of {PARTITION_ORDERS}"))
        for name in ("epochs", "batch_size", "hidden", "latent_dim", "image_size", "pixel_max"):
            if int(getattr(self, name)) < 1:
                out.append((name, f"must be >= 1, got {getattr(self, name)}"))
        if not self.lr > 0:
            out.append(("lr", f"must be > 0, got {self.lr}"))
        if self.precision not in PRECISIONS:
            out.append(("precision", f"must be one of {PRECISIONS}, got {self.precision!r}"))
        elif self.precision in CUDA_ONLY_PRECISIONS and self.device.startswith("cpu"):
            out.append(("precision", f"{self.precision!r} needs a CUDA device, but device is "
                                     f"{self.device!r}; use fp32 or bf16 on a CPU"))
        if not 0 <= self.target_noise <= 1:
            out.append(("target_noise", f"must be in [0, 1], got {self.target_noise}"))
        return out + self.remedy_problems() + self.pair_problems()

    def pair_problems(self) -> list[tuple[str, str]]:
        out = []
        if self.pair_sampler not in PAIR_SAMPLERS:
            out.append(("pair_sampler", f"must be one of {PAIR_SAMPLERS}, got {self.pair_sampler!r}"))
        n = len(self.partitions)
        if isinstance(self.pair_k, bool) or not isinstance(self.pair_k, int) or not 0 <= self.pair_k < n:
            out.append(("pair_k", f"must be 0 (drawn per pair) or a number of partitions in [1, {n}), "
                                  f"got {self.pair_k!r}"))
        if self.objective not in PAIR_METHODS:
            return out
        if self.gated:
            out.append(("gated", f"{self.objective} is a pair method: it aggregates the shared dims' "
                                 "posteriors instead of gating; train it with gated false"))
        if self.batch_size % 2:
            out.append(("batch_size", f"must be even for {self.objective} (a batch is B/2 pairs), "
                                      f"got {self.batch_size}"))
        if self.target_noise:
            out.append(("target_noise", f"is a gated-run setting; {self.objective} does not read it"))
        if self.self_target_prob or self.ungated_warmup_epochs:
            out.append(("self_target_prob", f"self targets and un-gated warm-up are gated-run remedies; "
                                            f"{self.objective} does not read them"))
        if self.pair_sampler == "partition" and PAIR_METHODS[self.objective][1] == "known_k":
            out.append(("pair_sampler", f"{self.objective} needs pairs that change k factors: "
                                        "pair_sampler k_factors"))
        return out

    def remedy_problems(self) -> list[tuple[str, str]]:
        out = []
        if not 0 <= self.kl_warmup <= 1:
            out.append(("kl_warmup", f"must be a fraction of the steps in [0, 1], got {self.kl_warmup}"))
        if not 0 <= self.self_target_prob <= 1:
            out.append(("self_target_prob", f"must be in [0, 1], got {self.self_target_prob}"))
        n = len(self.partitions)
        if any(not isinstance(p, int) or not 0 <= p < n for p in self.self_target_partitions) \
                or len(set(self.self_target_partitions)) != len(self.self_target_partitions):
            out.append(("self_target_partitions", f"must be distinct partition indices in [0, {n}), "
                                                  f"got {self.self_target_partitions}"))
        elif self.self_target_prob > 0 and not self.self_target_partitions:
            out.append(("self_target_partitions", "must name at least one partition when "
                                                  "self_target_prob > 0 (the partitions whose "
                                                  "encoder dims learn from the anchor itself)"))
        if self.ungated_warmup_epochs < 0 or 0 < self.epochs <= self.ungated_warmup_epochs:
            out.append(("ungated_warmup_epochs", f"must be in [0, epochs) = [0, {self.epochs}), "
                                                 f"got {self.ungated_warmup_epochs}"))
        if self.free_bits and (len(self.free_bits) != n or any(
                not isinstance(b, (int, float)) or isinstance(b, bool) or b < 0 for b in self.free_bits)):
            out.append(("free_bits", f"must be empty or {n} numbers >= 0 (nats, one per partition), "
                                     f"got {self.free_bits}"))
        return out

    @property
    def remedies(self) -> dict:
        """The remedies that are switched on, by name (empty for the plain recipe)."""
        on = {}
        if self.kl_warmup > 0:
            on["kl_warmup"] = self.kl_warmup
        if self.self_target_prob > 0:
            on["self_target_prob"] = self.self_target_prob
            on["self_target_partitions"] = list(self.self_target_partitions)
        if self.ungated_warmup_epochs > 0:
            on["ungated_warmup_epochs"] = self.ungated_warmup_epochs
        if any(b > 0 for b in self.free_bits):
            on["free_bits"] = list(self.free_bits)
        return on

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class FinetuneSettings:
    """Decoder fine-tuning after training (paper Fig. 4): the same section in both datasets."""
    epochs: int
    lr: float

    @classmethod
    def from_params(cls, params: dict, key: str) -> "FinetuneSettings":
        """The validated `key` section (dsprites.finetune, faces.finetune)."""
        from gatedvae.params import number

        return cls(epochs=number(params, f"{key}.epochs", integer=True, minimum=0),
                   lr=number(params, f"{key}.lr", positive=True))
