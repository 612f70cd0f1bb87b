"""How much head pose an extractor's AU estimates carry, and what removing it costs: docs/faces.md
"Pose-free expression features".

Renders synthetic faces of known pose and expression, runs the landmarks68 extractor (dlib) on
them, and prints per AU proxy: its correlation with the estimated and the true pitch and with the
true AU, the share of its variance pose (pitch, yaw, their squares) explains, and the same
correlations after clustering.pose_corrected removes that share.

    python benchmarks/brow_pose.py [--n 400] [--work /tmp/brow_pose]    # needs pip install -e ".[landmarks]"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.faces import landmarks68
from gatedvae.faces.clustering import pose_corrected
from gatedvae.faces.synthetic import SyntheticConfig, generate

AUS = ["AU01_r", "AU02_r", "AU04_r", "AU12_r", "AU25_r", "AU45_r"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--work", default="/tmp/brow_pose")
    args = parser.parse_args()
    root = Path(args.work) / "raw"
    if not (root / "factors.parquet").exists():
        generate(root, SyntheticConfig(n_images=args.n, n_identities=max(1, args.n // 10), seed=11, workers=1),
                 progress=True)
    factors = pd.read_parquet(root / "factors.parquet")
    ids = factors["image_id"].tolist()
    found = landmarks68.extract(root / "img_celeba", ids, progress=True)
    ok = found["success"].to_numpy()
    truth = factors.set_index("image_id").loc[ids]
    print(f"dlib found {ok.sum()} of {len(ids)} rendered faces")
    pose = found.loc[ok, ["pitch", "yaw"]].to_numpy(float)
    values = found.loc[ok, AUS].to_numpy(float)
    corrected, r2 = pose_corrected(values, pose)

    def r(a, b):
        return float(np.corrcoef(a, b)[0, 1])

    print("AU      r(proxy, est. pitch)  r(proxy, true pitch)  r(proxy, true AU)  pose R^2 | after: r(est. pitch)  r(true AU)")
    for j, au in enumerate(AUS):
        true_au = truth[au].to_numpy()[ok]
        print(f"{au}  {r(values[:, j], pose[:, 0]):+20.2f}  {r(values[:, j], truth['pitch'].to_numpy()[ok]):+20.2f}"
              f"  {r(values[:, j], true_au):+17.2f}  {r2[j]:8.2f} | {r(corrected[:, j], pose[:, 0]):+18.2f}"
              f"  {r(corrected[:, j], true_au):+10.2f}")


if __name__ == "__main__":
    main()
