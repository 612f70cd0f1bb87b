"""Prefect orchestration of the DVC pipeline: tasks from dvc.yaml, DVC-keyed caching, GPU slots.

Modules: dag (the task graph from DVC), stagestate (DVC status and input fingerprints),
cachekey (the Prefect cache policy), dvccli (DVC child processes with streamed output),
gpu (GPU slots), lockorder (dvc.lock entry order), flow (the flow), cli (`gatedvae flow`).
Importing this package does not import Prefect or DVC.
"""
