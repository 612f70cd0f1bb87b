"""Stage faces_sweeps: the synthetic renderer's yaw, pitch and expression sweeps at fixed
identities, aligned and greyscaled as the pipeline does (what the model sees as one factor moves)."""

from gatedvae.faces.sweeps import write_sweeps
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(write_sweeps, __doc__, arg("--out-dir", help="the figures' folder"))
