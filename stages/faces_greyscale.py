"""Stage faces_greyscale: aligned RGB crops to uint8 greyscale [N, H, W], plus a contact sheet."""

from gatedvae.faces.greyscale import greyscale_faces
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(greyscale_faces, __doc__, arg("--aligned"), arg("--out", help="grey.npy"), arg("--sheet", help="contact sheet PNG"))
