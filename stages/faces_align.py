"""Stage faces_align: 5-landmark similarity alignment and crop of every image."""

from gatedvae.faces.align import align_faces
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(align_faces, __doc__, arg("--raw"), arg("--out", help="aligned folder: images.npy, index.parquet, report.json"))
