"""Can the faces conv step be made cheaper on a CPU? Each option against today's step, measured in
one process in interleaved rounds: docs/benchmarks.md "A cheaper conv step".

The step is the engine's (bench.loops.step_parts + fit.step_loss: the faces conv net, hidden
256, latent 24 in partitions [6, 18], a gated step per partition in turn, fused Adam) repeated
on one resident batch of greyscale 0..255 images. Options: channels-last memory format, oneDNN
off (PyTorch uses it for CPU convolutions by default), torch.compile of the encoder and decoder,
larger batches (images/s per image, so the ratio says what a batch costs per image), bf16
autocast. For each option that keeps fp32 arithmetic, the parameters after the same steps from
the same seed are compared with today's bytes (an option that changes them changes the
pipeline's outputs, and the "same seed, same bytes" rule then needs its own baseline).

    python benchmarks/conv_step.py [--steps 24] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import time

import numpy as np
import torch

from gatedvae.bench.loops import step_parts
from gatedvae.training.config import TrainConfig
from gatedvae.training.fit import step_loss
from gatedvae.training.infer import to_float

BASE = TrainConfig(net="conv", hidden=256, latent_dim=24, partitions=[6, 18], batch_size=64, lr=5e-4,
                   pixel_max=255, image_size=64, gated=True, device="cpu", seed=0)


@dataclasses.dataclass
class Option:
    name: str
    batch: int = 64
    precision: str = "fp32"
    channels_last: bool = False
    mkldnn: bool = True
    compile: bool = False


OPTIONS = [Option("today: fp32, NCHW, oneDNN, batch 64"), Option("channels-last", channels_last=True),
           Option("oneDNN off", mkldnn=False), Option("torch.compile", compile=True),
           Option("batch 128", batch=128), Option("batch 256", batch=256), Option("bf16 autocast", precision="bf16")]


class Runner:
    """One option's model, optimizer and batch, stepping as the engine's step does."""

    def __init__(self, option: Option, images: np.ndarray):
        self.option = option
        torch.manual_seed(0)
        cfg = dataclasses.replace(BASE, batch_size=option.batch, precision=option.precision)
        self.parts = step_parts(cfg)
        self.cfg = cfg
        model = self.parts.model
        self.x = to_float(torch.from_numpy(images[:option.batch]), 255)
        if option.channels_last:
            model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        if option.compile:
            model.encode = torch.compile(model.encode)
            model.decode = torch.compile(model.decode)
        self.generator = torch.Generator().manual_seed(0)
        self.step_count = 0

    def flags(self):
        return torch.backends.mkldnn.flags(enabled=self.option.mkldnn) if not self.option.mkldnn \
            else contextlib.nullcontext()

    def step(self) -> None:
        p = self.parts
        mask = p.masks[self.step_count % len(p.masks)]
        eps = torch.randn((len(self.x), self.cfg.latent_dim), generator=self.generator)
        with self.flags():
            loss, *_ = step_loss(p.model, p.objective, self.x, self.x, mask, eps, generator=self.generator)
            p.optimizer.zero_grad(set_to_none=True)
            p.precision.backward_and_step(loss, p.optimizer)
        self.step_count += 1

    def images_per_second(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return steps * self.option.batch / (time.perf_counter() - start)

    def parameters(self) -> np.ndarray:
        return torch.cat([q.detach().reshape(-1).float() for q in self.parts.model.parameters()]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="timed steps of batch 64 per round (larger batches: fewer)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    images = np.random.default_rng(0).integers(0, 256, (256, 64, 64)).astype(np.uint8)

    # bytes: the same 4 steps from the same seed, each option against today's
    reference = Runner(OPTIONS[0], images)
    for _ in range(4):
        reference.step()
    same_bytes, problems, runners = {}, {}, {}
    for option in OPTIONS:
        try:
            runner = Runner(option, images)
            for _ in range(args.warmup):   # also compiles
                runner.step()
        except Exception as e:  # torch.compile needs a working C++ toolchain; say so, go on
            problems[option.name] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            continue
        if option.batch == 64 and option.precision == "fp32" and option is not OPTIONS[0]:
            check = Runner(option, images)
            for _ in range(4):
                check.step()
            diff = float(np.abs(check.parameters() - reference.parameters()).max())
            same_bytes[option.name] = {"identical": diff == 0.0, "max_abs_difference": diff}
        runners[option.name] = Runner(option, images) if option.compile is False else runner
        for _ in range(args.warmup if option.compile is False else 0):
            runners[option.name].step()

    speeds = {name: [] for name in runners}
    for _ in range(args.rounds):   # interleaved, so a busy moment hits every option alike
        for name, runner in runners.items():
            steps = max(4, args.steps * 64 // runner.option.batch)
            speeds[name].append(runner.images_per_second(steps))
    base = float(np.median(speeds[OPTIONS[0].name]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; images/s, median of {args.rounds} rounds")
    rows = []
    for name, values in speeds.items():
        median = float(np.median(values))
        bytes_note = same_bytes.get(name)
        rows.append({"option": name, "images_per_second": round(median, 1), "ratio": round(median / base, 3),
                     "rounds": [round(v, 1) for v in values], "same_bytes_as_today": bytes_note})
        note = "" if bytes_note is None else ("  same bytes" if bytes_note["identical"] else
                                               f"  differs (max |dparam| {bytes_note['max_abs_difference']:.2e})")
        print(f"{name:40s} {median:8.0f} {median / base:6.2f}x  ({', '.join(f'{v:.0f}' for v in values)}){note}")
    for name, why in problems.items():
        print(f"{name:40s} not measured: {why}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows,
                       "not_measured": problems}, f, indent=2)


if __name__ == "__main__":
    main()
