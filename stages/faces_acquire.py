"""Stage faces_acquire: CelebA (synthetic, a local copy or a download) into the raw folder."""

from gatedvae.faces.acquire import acquire_faces
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(acquire_faces, __doc__,
        arg("--source", help="faces.acquire.path: the CelebA folder read by source: path"),
        arg("--out", help="the raw folder (CelebA's layout)"))
