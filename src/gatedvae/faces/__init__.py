"""The faces branch: synthetic or real CelebA, alignment, features, clustering into a pair index."""
