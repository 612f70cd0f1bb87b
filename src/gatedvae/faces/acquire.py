"""Get CelebA (or the synthetic stand-in) into one folder in the official layout.

Sources: `synthetic` renders it (synthetic.py); `path` takes a local copy of the official files,
MD5-checking each; `download` fetches the official files, refusing HTML pages served in their
place. The image archive is extracted streaming, with a progress bar by bytes.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from gatedvae.atomic import atomic_path
from gatedvae.download import DownloadError, fetch, looks_like_html, md5sum
from gatedvae.errors import StageError


@dataclass(frozen=True)
class OfficialFile:
    name: str
    size: int
    md5: str
    drive_id: str | None  # None: not among the files that torchvision's CelebA downloads


CELEBA_FILES = {f.name: f for f in (
    OfficialFile("img_align_celeba.zip", 1_443_490_838, "00d2c5bc6d35e252742224ab0c1e8fcb",
                 "0B7EVK8r0v71pZjFTYXZWM3FlRnM"),
    OfficialFile("list_attr_celeba.txt", 26_721_026, "75e246fa4810816ffd6ee81facbd244c",
                 "0B7EVK8r0v71pblRyaVFSWGxPY0U"),
    OfficialFile("identity_CelebA.txt", 3_424_458, "32bd1bd63d3c78cd57e08160ec5ed1e2",
                 "1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS"),
    OfficialFile("list_bbox_celeba.txt", 6_082_035, "00566efa6fedff7a56946cd1c10f1c16",
                 "0B7EVK8r0v71pbThiMVRxWXZ4dU0"),
    OfficialFile("list_landmarks_align_celeba.txt", 12_156_055, "cc24ecafdb5b50baae59b03474781f8c",
                 "0B7EVK8r0v71pd0FJY3Blby1HUTQ"),
    OfficialFile("list_landmarks_celeba.txt", 12_352_635, "063ee6ddb681f96bc9ca28c6febb9d1a", None),
    OfficialFile("list_eval_partition.txt", 2_836_386, "d32c9cbf5e040fd4025c592c306e6668",
                 "0B7EVK8r0v71pY0NSMzRuSXJEVkk"),
)}
# What the aligned image set needs; the rest is copied when present.
REQUIRED = ("img_align_celeba.zip", "list_landmarks_align_celeba.txt", "list_attr_celeba.txt",
            "list_eval_partition.txt", "identity_CelebA.txt")
OFFICIAL_PAGE = "http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


class AcquireError(StageError, RuntimeError):
    """CelebA could not be put in place; the message says which files to place where."""


def check_file(path: Path, spec: OfficialFile) -> str | None:
    """None when `path` is the official file, otherwise what is wrong with it."""
    if not path.exists():
        return "missing"
    with open(path, "rb") as f:
        head = f.read(512)
    if looks_like_html(head):
        return "an HTML page, not the file (the host served a quota or sign-in page)"
    size = path.stat().st_size
    if size != spec.size:
        return f"{size:,} bytes, expected {spec.size:,}"
    digest = md5sum(path)
    if digest != spec.md5:
        return f"MD5 {digest}, expected {spec.md5}"
    return None


def placement_help(folder: Path, names, files=CELEBA_FILES) -> str:
    lines = [f"Place these files from the official CelebA release ({OFFICIAL_PAGE}, 'Align&Cropped "
             f"Images' and 'Anno'/'Eval' folders) in {folder}/ and set faces.acquire.source: path "
             f"with faces.acquire.path: {folder}:"]
    lines += [f"  {folder / n}  ({files[n].size:,} bytes, md5 {files[n].md5})" for n in names]
    return "\n".join(lines)


def extract_zip(archive: Path, dest: Path, *, progress: bool = True) -> int:
    """Extract streaming member by member, with a progress bar over uncompressed bytes; returns
    the number of files. Refuses members that would land outside `dest`."""
    count = 0
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        total = sum(m.file_size for m in members)
        root = dest.resolve()
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"extract {archive.name}",
                  disable=not progress) as bar:
            for member in members:
                target = (dest / member.filename).resolve()
                if root not in target.parents:
                    raise AcquireError(f"{archive}: member {member.filename!r} would be written "
                                       f"outside {dest}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as out:
                    while block := src.read(1 << 20):
                        out.write(block)
                        bar.update(len(block))
                count += 1
    return count


def from_path(source: str | Path, dest: str | Path, *, files=CELEBA_FILES, required=REQUIRED,
              progress: bool = True) -> dict:
    """Check every official file in `source` by size and MD5, then copy the annotations and
    extract the image archive into `dest` (replaced whole). An already extracted
    img_align_celeba/ folder is accepted in place of the zip (its JPEGs are counted)."""
    source, dest = Path(source), Path(dest)
    problems = {}
    present = []
    for name, spec in files.items():
        path = source / name
        if name == "img_align_celeba.zip" and not path.exists() and (source / "img_align_celeba").is_dir():
            present.append("img_align_celeba/")
            continue
        if not path.exists() and name not in required:
            continue
        problem = check_file(path, spec)
        if problem:
            problems[name] = problem
        else:
            present.append(name)
    if problems:
        details = "\n".join(f"  {source / n}: {p}" for n, p in problems.items())
        raise AcquireError(f"CelebA files in {source} are not the official ones:\n{details}\n"
                           + placement_help(source, list(problems), files))
    return _install(source, dest, present, progress=progress)


def _install(source: Path, dest: Path, present: list[str], *, progress: bool) -> dict:
    summary = {"files": sorted(present)}
    with atomic_path(dest) as tmp:
        tmp.mkdir(parents=True)
        for name in present:
            if name == "img_align_celeba.zip":
                summary["images"] = extract_zip(source / name, tmp, progress=progress)
            elif name == "img_align_celeba/":
                shutil.copytree(source / "img_align_celeba", tmp / "img_align_celeba")
                summary["images"] = sum(1 for _ in (tmp / "img_align_celeba").glob("*.jpg"))
            else:
                shutil.copy2(source / name, tmp / name)
        if (source / "openface").is_dir():
            shutil.copytree(source / "openface", tmp / "openface")
    return summary


def download(dest: str | Path, *, url_template: str, staging: str | Path, files=CELEBA_FILES,
             required=REQUIRED, progress: bool = True) -> dict:
    """Fetch the required official files into `staging` (kept, so a rerun resumes from what is
    there), check them, then install into `dest` as from_path does."""
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    failed = {}
    for name in required:
        spec = files[name]
        path = staging / name
        if check_file(path, spec) is None:
            continue
        if spec.drive_id is None:
            failed[name] = "no official download link"
            continue
        try:
            fetch(url_template.format(id=spec.drive_id, name=name), path, md5=spec.md5,
                  expected_size=spec.size, desc=name, hint=placement_help(staging, [name], files))
        except DownloadError as e:
            failed[name] = str(e).split("Place these files")[0].strip()
            continue
    if failed:
        details = "\n".join(f"  {n}: {why}" for n, why in failed.items())
        raise AcquireError(f"CelebA download failed:\n{details}\n" + placement_help(staging, list(failed), files))
    return from_path(staging, dest, files=files, required=required, progress=progress)
