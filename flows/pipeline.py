"""Prefect entry points of the DVC pipeline flows, named by flows/prefect.yaml: the pipeline in
one checkout (dvc_pipeline) and its per-stage dispatch over a work pool (dvc_dispatch).

The flow lives in the library (gatedvae.orchestration.flow) and derives its tasks from
dvc.yaml at run time, so adding a stage to dvc.yaml needs no change here.
"""

from gatedvae.orchestration.dispatch import dvc_dispatch
from gatedvae.orchestration.flow import dvc_pipeline

__all__ = ["dvc_dispatch", "dvc_pipeline"]

if __name__ == "__main__":
    dvc_pipeline()
