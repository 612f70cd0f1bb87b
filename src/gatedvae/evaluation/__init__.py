"""Scoring a model: the evaluation settings, one evaluate path for every dataset, metrics and plots."""
