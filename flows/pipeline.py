"""Prefect entry point of the DVC pipeline flow, named by flows/prefect.yaml.

The flow lives in the library (gatedvae.orchestration.flow) and derives its tasks from
dvc.yaml at run time, so adding a stage to dvc.yaml needs no change here.
"""

from gatedvae.orchestration.flow import dvc_pipeline

__all__ = ["dvc_pipeline"]

if __name__ == "__main__":
    dvc_pipeline()
