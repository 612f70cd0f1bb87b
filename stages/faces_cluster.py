"""Stage faces_cluster: k-means of pose and AU features into the pair index groups.parquet."""

from gatedvae.faces.clustering import cluster_faces
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(cluster_faces, __doc__, arg("--features"), arg("--aligned"), arg("--out", help="groups.parquet"),
        arg("--stats", help="cluster statistics JSON"))
