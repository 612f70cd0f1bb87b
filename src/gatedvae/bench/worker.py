"""One run of the paper-scale bench, in its own process: `python -m gatedvae.bench.worker SPEC`.

SPEC (JSON): config (TrainConfig fields), steps, warmup_steps, threads. The worker builds its
synthetic data, warms up with a short engine epoch, prints READY and waits for a line on stdin,
so that every run of a concurrency level starts its timed epoch together. Then one engine epoch
of `steps` batches; prints RESULT {...}: images, the engine's images/s and loop seconds, and the
wall-clock time the epoch ended (time.time(), comparable across processes on one machine)
and the worker's pid.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(spec_json: str) -> None:
    import torch

    from gatedvae.bench.synthetic import synthetic_groups, synthetic_images
    from gatedvae.training.config import TrainConfig
    from gatedvae.training.fit import train

    spec = json.loads(spec_json)
    torch.set_num_threads(int(spec["threads"]))
    cfg = TrainConfig(**{**spec["config"], "epochs": 1})
    n = spec["steps"] * cfg.batch_size
    images = synthetic_images(n, cfg.pixel_max, cfg.image_size, seed=cfg.seed)
    groups = synthetic_groups(n, len(cfg.partitions), seed=cfg.seed) if cfg.gated else None
    with tempfile.TemporaryDirectory(prefix="gatedvae-bench-worker-") as tmp:
        warm = max(1, spec["warmup_steps"]) * cfg.batch_size
        train(images[:warm], None if groups is None else groups[:warm], cfg,
              checkpoint_dir=Path(tmp) / "warmup", progress=False)
        print("READY", flush=True)
        sys.stdin.readline()
        result = train(images, groups, cfg, checkpoint_dir=Path(tmp) / "timed", progress=False)
        ended = time.time()
    print("RESULT " + json.dumps({"images": n, "images_per_second": result.images_per_second,
                                  "loop_seconds": result.seconds, "ended": ended,
                                  "threads": torch.get_num_threads(), "pid": os.getpid()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
