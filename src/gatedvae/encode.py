"""Partition codes for downstream work: a trained model's posterior means, one column per latent
dim, each named after the partition it belongs to (the paper's motivation: expression codes that
head pose does not move). `gatedvae encode` is the command; `load_model` the Python API:

    from gatedvae.encode import load_model
    model = load_model("models/faces/main/gated-self_target_warmup-0/finetuned.pt")
    model.partitions                 # {"pose": [0, ..., 5], "expression": [6, ..., 23]}
    codes = model.encode(images)     # [N, 24] float32; images: aligned uint8 [N, 64, 64] (or RGB)
    frame = model.codes(images, names)   # one row per image: image_id, pose_0 .. expression_17

Images must be aligned as the faces pipeline aligns them (faces_align: eyes level, the crop the
model was trained on). A folder of photos is aligned here from 5 landmarks per image: a CelebA-
format landmark file (`--landmarks`) or dlib's 68 points (`--align landmarks68`, the optional
extra); an image of another size with neither is refused, never resized into a wrong crop.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.errors import InputError, StageError


@dataclass
class PartitionModel:
    """A trained VAE with its partitions named, ready to encode aligned images."""
    path: Path
    net: object                 # the torch VAE
    image_size: int
    pixel_max: int
    partition_names: list[str]
    partition_sizes: list[int]

    @property
    def latent_dim(self) -> int:
        return sum(self.partition_sizes)

    @property
    def partitions(self) -> dict[str, list[int]]:
        """Partition name -> its latent dims (indices into a code)."""
        out, start = {}, 0
        for name, size in zip(self.partition_names, self.partition_sizes):
            out[name] = list(range(start, start + size))
            start += size
        return out

    @property
    def columns(self) -> list[str]:
        """The code columns, `<partition>_<index within it>`, in latent-dim order."""
        return [f"{name}_{i}" for name, dims in self.partitions.items() for i in range(len(dims))]

    def check_images(self, images: np.ndarray, source: str = "images") -> np.ndarray:
        """Aligned uint8 greyscale [N, S, S] at the model's size (RGB [N, S, S, 3] is converted
        as the pipeline converts it), or an error saying what was expected."""
        from gatedvae.faces.greyscale import to_greyscale

        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise InputError(source, f"expected uint8 pixels (0..255), got {images.dtype}")
        if images.ndim == 4 and images.shape[-1] == 3:
            images = to_greyscale(images)
        if images.ndim != 3:
            raise InputError(source, f"expected images [N, H, W] (greyscale) or [N, H, W, 3] (RGB), "
                                     f"got shape {list(images.shape)}")
        if images.shape[1:] != (self.image_size, self.image_size):
            raise InputError(source, f"images are {images.shape[2]}x{images.shape[1]} but {self.path} "
                                     f"takes {self.image_size}x{self.image_size} aligned faces: align "
                                     "them as the model's pipeline did (faces.align.size), or use a "
                                     "model trained at this size")
        return images

    def encode(self, images: np.ndarray, *, device: str = "auto") -> np.ndarray:
        """Posterior means [N, latent_dim] (float32) of aligned images."""
        from gatedvae.training.infer import encode_mean

        return encode_mean(self.net, self.check_images(images), pixel_max=self.pixel_max, device=device)

    def codes(self, images: np.ndarray, image_ids: list[str], *, device: str = "auto") -> pd.DataFrame:
        """One row per image: image_id, then one column per latent dim (see `columns`)."""
        if len(image_ids) != len(images):
            raise ValueError(f"{len(image_ids)} names for {len(images)} images")
        frame = pd.DataFrame(self.encode(images, device=device), columns=self.columns)
        frame.insert(0, "image_id", list(image_ids))
        return frame


def partition_names_of(path: Path, history: list | None, n_partitions: int) -> list[str]:
    """The partitions' names as training recorded them (its history's kl_<name> keys); a
    fine-tuned decoder's record has none, so the model.pt it was fine-tuned from (beside it, as
    the pipeline writes them) is read; p0, p1, ... when neither names them."""
    import torch

    def from_history(history) -> list[str] | None:
        if not history:
            return None
        names = [k[3:] for k in history[0] if k.startswith("kl_") and k != "kl_total"]
        generic = [f"p{i}" for i in range(n_partitions)]
        return names if len(names) == n_partitions and names != generic else None

    names = from_history(history)
    beside = path.with_name("model.pt")
    if names is None and beside != path and beside.is_file():
        names = from_history(torch.load(beside, map_location="cpu", weights_only=False).get("history"))
    return names or [f"p{i}" for i in range(n_partitions)]


def load_model(path: str | Path, *, partition_names: list[str] | None = None) -> PartitionModel:
    """A model.pt or finetuned.pt from the pipeline, with its partitions named (from its training
    record, or `partition_names`)."""
    from gatedvae.training.checkpoint import load_model as load_checkpoint

    path = Path(path)
    net, cfg, extra = load_checkpoint(path)
    sizes = list(cfg.partitions) if cfg.partitions else [cfg.latent_dim]
    if partition_names is None:
        partition_names = partition_names_of(path, extra.get("history"), len(sizes))
    elif len(partition_names) != len(sizes):
        raise StageError(f"{len(partition_names)} partition names {partition_names} for a model with "
                         f"{len(sizes)} partitions {sizes}")
    return PartitionModel(path=path, net=net, image_size=int(cfg.image_size), pixel_max=int(cfg.pixel_max),
                          partition_names=list(partition_names), partition_sizes=sizes)


# Reading images

def read_images(source: str | Path) -> tuple[np.ndarray | None, list[str], Path | None]:
    """(pixels or None, names, folder): a .npy of aligned images (names from an index.parquet
    beside it, as faces_align writes, else `<stem>:<row>`), or a folder of image files (pixels
    None: read by the caller, aligned or not)."""
    from gatedvae.faces.images import list_images

    source = Path(source)
    if source.suffix == ".npy":
        if not source.is_file():
            raise InputError(source, "not found")
        pixels = np.load(source, allow_pickle=False)
        index = source.with_name("index.parquet")
        if index.is_file():
            names = pd.read_parquet(index)["image_id"].astype(str).tolist()
            if len(names) != len(pixels):
                raise InputError(index, f"{len(names)} names for the {len(pixels)} images of {source}")
        else:
            names = [f"{source.stem}:{i}" for i in range(len(pixels))]
        return pixels, names, None
    if not source.is_dir():
        raise InputError(source, "expected a folder of images or a .npy of aligned images")
    names = list_images(source).images
    if not names:
        raise InputError(source, "no images (.jpg, .jpeg, .png, .bmp)")
    return None, names, source


def load_folder(folder: Path, names: list[str], size: int, *, landmarks: Path | None, detector: str | None,
                align_params: dict) -> tuple[np.ndarray, list[str], list[dict]]:
    """The images of a folder as aligned RGB [N, size, size, 3]: already-aligned images (exactly
    size x size) as they are; others aligned from 5 landmarks (a CelebA-format file, or dlib's 68
    points reduced to CelebA's 5). Returns (images, their names, what could not be aligned)."""
    from PIL import Image

    from gatedvae.faces.align import align_images

    sizes = {}
    for name in names:
        with Image.open(folder / name) as im:
            sizes[name] = im.size
    unaligned = [n for n in names if sizes[n] != (size, size)]
    if unaligned and landmarks is None and detector is None:
        examples = ", ".join(f"{n} ({sizes[n][0]}x{sizes[n][1]})" for n in unaligned[:3])
        raise InputError(folder, f"{len(unaligned)} images are not {size}x{size} aligned faces (e.g. "
                                 f"{examples}): pass --landmarks <CelebA-format landmark file> or "
                                 "--align landmarks68 (dlib) to align them, or align them with the "
                                 "pipeline (faces_align)")
    ready = [n for n in names if n not in set(unaligned)]
    images = {n: read_rgb(folder / n) for n in ready}
    failures = []
    if unaligned:
        points = five_points(folder, unaligned, landmarks=landmarks, detector=detector, failures=failures)
        result = align_images(folder, unaligned, points, size=size, workers=1, progress=False, **align_params)
        images.update(zip(result.image_ids, result.images))
        failures += [{"image_id": i, "reason": r} for i, r in result.failures
                     if not any(f["image_id"] == i for f in failures)]
    kept = [n for n in names if n in images]
    return (np.stack([images[n] for n in kept]) if kept else np.zeros((0, size, size, 3), np.uint8),
            kept, failures)


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def five_points(folder: Path, names: list[str], *, landmarks: Path | None, detector: str | None,
                failures: list) -> np.ndarray:
    """CelebA's 5 landmarks [N, 5, 2] per image (NaN where there are none)."""
    from gatedvae.faces import celeba

    if landmarks is not None:
        table = celeba.read_landmarks(landmarks)
        points = table.reindex(names).to_numpy(dtype=np.float64).reshape(-1, 5, 2)
        failures += [{"image_id": n, "reason": f"no row in {landmarks}"}
                     for n, p in zip(names, points) if not np.isfinite(p).all()]
        return points
    from gatedvae.faces import landmarks68

    if not landmarks68.available():
        raise InputError(folder, f"--align landmarks68 needs dlib: {landmarks68.INSTALL_HINT}")
    out = np.full((len(names), 5, 2), np.nan)
    for i, name in enumerate(names):
        pts = landmarks68.detect(read_rgb(folder / name))
        if pts is None:
            failures.append({"image_id": name, "reason": "no face found by dlib's detector"})
            continue
        # CelebA's 5: eye centres, nose tip, mouth corners
        out[i] = [pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]]
    return out


def write_codes(out: str | Path, frame: pd.DataFrame, model: PartitionModel, meta: dict) -> None:
    """codes.parquet, with the column -> (partition, latent dim) map in its schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gatedvae.atomic import atomic_path

    table = pa.Table.from_pandas(frame, preserve_index=False)
    dims = [(p, d) for p, part_dims in model.partitions.items() for d in part_dims]   # columns' order
    columns = {c: {"partition": p, "latent_dim": d} for c, (p, d) in zip(model.columns, dims)}
    info = {"model": str(model.path), "partitions": model.partitions, "columns": columns, **meta}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"gatedvae": json.dumps(info).encode()})
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp)


# The command (`gatedvae encode`)

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a model.pt or finetuned.pt (models/faces/main/<run>-<seed>/ for the main runs, models/faces/<run>-<seed>/ for the study)")
    parser.add_argument("--images", required=True,
                        help="a folder of images, or a .npy of aligned images (data/faces/aligned/images.npy)")
    parser.add_argument("--out", required=True, help="codes.parquet: one row per image, one column per latent dim")
    parser.add_argument("--landmarks", help="a CelebA-format 5-point landmark file for images not yet aligned")
    parser.add_argument("--align", choices=["landmarks68"], help="find the landmarks with dlib (optional extra)")
    parser.add_argument("--params", default="params.yaml",
                        help="faces.align settings of the model's pipeline (default: params.yaml, if present)")
    parser.add_argument("--partition-names", help="comma-separated names, when the model's record has none")


def _align_params(path: Path) -> dict:
    """faces.align.face_scale, min_eye_distance, max_residual from the pipeline's params (the crop
    the model was trained on), checked as the pipeline checks them; the committed defaults
    without a params file."""
    if not path.is_file():
        return {"face_scale": 0.85, "min_eye_distance": 4.0, "max_residual": 0.5}
    from gatedvae.faces.config import align_settings
    from gatedvae.params import load

    settings = align_settings(load(path))
    return {"face_scale": settings.face_scale, "min_eye_distance": settings.min_eye_distance,
            "max_residual": settings.max_residual}


def run(args) -> int:
    names_given = args.partition_names.split(",") if args.partition_names else None
    model = load_model(args.model, partition_names=names_given)
    pixels, names, folder = read_images(args.images)
    failures: list[dict] = []
    if folder is not None:
        pixels, names, failures = load_folder(folder, names, model.image_size,
                                              landmarks=Path(args.landmarks) if args.landmarks else None,
                                              detector=args.align, align_params=_align_params(Path(args.params)))
        if not names:
            raise InputError(folder, f"no image could be aligned: {failures[:5]}")
    frame = model.codes(model.check_images(pixels, str(args.images)), names)
    write_codes(args.out, frame, model, {"images": str(args.images), "not_encoded": failures})
    print(f"wrote {len(frame)} codes ({', '.join(f'{p} {len(d)} dims' for p, d in model.partitions.items())}) "
          f"to {args.out}" + (f"; {len(failures)} images could not be aligned: "
                              + "; ".join(f"{f['image_id']}: {f['reason']}" for f in failures[:10])
                              if failures else ""))
    return 0
