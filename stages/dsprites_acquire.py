"""Stage dsprites_acquire: dSprites images and factors, rendered here or read from the official file."""

from gatedvae.dsprites.prepare import acquire
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(acquire, __doc__,
        arg("--source", help="dsprites.acquire.path: the .npz file or a folder holding it (read by source: path)"),
        arg("--images", help="uint8 .npy [N, 64, 64]"), arg("--factors", help="factors.parquet"))
