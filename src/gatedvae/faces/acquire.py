"""Get CelebA (or the synthetic stand-in) into one folder in the official layout.

Sources: `synthetic` renders it (synthetic.py); `path` takes what a researcher has (the official
zip or an extracted image folder, whole or any subset, and just the annotation files the chosen
stages read); `download` fetches the official files, refusing HTML pages served in their place.
Archives are extracted streaming, with a progress bar by bytes. acquire_faces is the stage
(stages/faces_acquire.py).
"""

from __future__ import annotations

import logging
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gatedvae.atomic import atomic_path, save_json
from gatedvae.download import DownloadError, fetch, looks_like_html, md5sum
from gatedvae.errors import StageError
from gatedvae.faces import celeba
from gatedvae.faces.images import Listing, is_image_name, list_images
from gatedvae.faces.spec import Needs
from gatedvae.params import ParamError, get

log = logging.getLogger(__name__)


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
OFFICIAL_PAGE = "http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


class AcquireError(StageError, RuntimeError):
    """CelebA could not be put in place; the message says which files to place where."""


N_CELEBA = 202_599          # images in the official release; each annotation file has a row each


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
             f"Images' and 'Anno' folders) in {folder}/ and set faces.acquire.source: path "
             f"with faces.acquire.path: {folder} (a subset of the images, as a folder or a zip, "
             "is fine):"]
    lines += [f"  {folder / n}  ({files[n].size:,} bytes, md5 {files[n].md5})" if n in files
              else f"  {folder / n}" for n in names]
    return "\n".join(lines)


def _member_name(member: zipfile.ZipInfo) -> str | None:
    """The image file name a zip member installs as, or None for folders, hidden files and
    macOS resource forks (__MACOSX/)."""
    parts = member.filename.split("/")
    if member.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    return parts[-1]


def extract_images(archive: Path, dest: Path, *, progress: bool = True) -> Listing:
    """Extract the images of a zip (at any depth) into `dest`, streaming with a progress bar;
    returns what was extracted and what was left out. Refuses two members with one name."""
    listing = Listing(images=[])
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise AcquireError(f"{archive}: not a readable zip archive ({e})") from e
    with zf:
        chosen = {}
        for member in zf.infolist():
            name = _member_name(member)
            if member.is_dir():
                continue
            if name is None:
                listing.hidden.append(member.filename)
            elif not is_image_name(name):
                listing.other.append(member.filename)
            elif name in chosen:
                raise AcquireError(f"{archive}: two members are named {name} "
                                   f"({chosen[name].filename} and {member.filename})")
            else:
                chosen[name] = member
        dest.mkdir(parents=True, exist_ok=True)
        total = sum(m.file_size for m in chosen.values())
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"extract {archive.name}",
                  disable=not progress) as bar:
            for name, member in chosen.items():
                with zf.open(member) as src, open(dest / name, "wb") as out:
                    while block := src.read(1 << 20):
                        out.write(block)
                        bar.update(len(block))
    listing.images = sorted(chosen)
    return listing


def hidden_image_like(hidden: list[str]) -> list[str]:
    """Hidden files in the image folder itself (not under __MACOSX/) whose names, dot removed,
    are image names: the macOS ._000001.jpg files OpenFace's -fdir reads as frames."""
    return sorted(Path(h).name for h in hidden
                  if "__MACOSX" not in Path(h).parts and is_image_name(Path(h).name.lstrip(".")))


def image_names(source: Path, needs: Needs) -> list[str]:
    """The images from_path would install (for checking sizes before any work)."""
    folder = source / needs.image_folder
    if folder.is_dir():
        return list_images(folder).images
    archive = source / f"{needs.image_folder}.zip"
    if archive.is_file():
        try:
            with zipfile.ZipFile(archive) as zf:
                return sorted(n for m in zf.infolist() if (n := _member_name(m)) and is_image_name(n))
        except zipfile.BadZipFile as e:
            raise AcquireError(f"{archive}: not a readable zip archive ({e})") from e
    return []


def count_alignable(source: Path, needs: Needs, align) -> dict:
    """How many images at `source` will survive alignment, judged from the landmark file alone:
    found, without a landmark row, with landmarks alignment refuses (align.check_landmarks,
    without the image's bounds), and alignable. Empty when there are no images or no landmark
    file yet (from_path then says what to place)."""
    from gatedvae.faces.align import check_landmarks, template

    names = image_names(source, needs)
    landmark_path = source / needs.annotations[0]
    if not names or not landmark_path.is_file():
        return {}
    table = celeba.read_landmarks(landmark_path)
    points = table.reindex(names).to_numpy(dtype=np.float64).reshape(-1, 5, 2)
    has_row = np.isfinite(points).all(axis=(1, 2))
    target = template(align.size, align.face_scale)
    refused = sum(check_landmarks(p, np.inf, np.inf, min_eye_distance=align.min_eye_distance,
                                  max_residual=align.max_residual, target=target)[0] is None
                  for p in points[has_row])
    return {"found": len(names), "without_landmark_row": int((~has_row).sum()),
            "landmarks_refused": int(refused), "alignable": int(has_row.sum()) - int(refused),
            "landmark_file": str(landmark_path)}


def _check_annotation(path: Path, spec: OfficialFile | None) -> tuple[object, str]:
    """(parsed table, how it was accepted): the official file (MD5-checked when it claims to
    be whole, i.e. lists every official image) or a consistent subset."""
    reader = celeba.read_attributes if path.name == "list_attr_celeba.txt" else celeba.read_landmarks
    with open(path, "rb") as f:
        if looks_like_html(f.read(512)):
            raise AcquireError(f"{path}: an HTML page, not the file (the host served a quota or "
                               "sign-in page)")
    table = reader(path)  # a format error names the file and line
    if spec is not None and len(table) >= N_CELEBA:
        problem = check_file(path, spec)
        if problem:
            raise AcquireError(f"{path}: lists all {len(table):,} images but is not the official "
                               f"file ({problem}); use the official file or a subset of its rows")
        return table, "official (MD5 checked)"
    return table, f"subset of {len(table):,} rows"


def from_path(source: str | Path, dest: str | Path, needs: Needs, *, files=CELEBA_FILES,
              progress: bool = True) -> dict:
    """Install the CelebA a researcher has into `dest` (replaced whole), in the official layout.

    `source` holds the image folder (img_align_celeba/ or img_celeba/) or, for the aligned
    set, img_align_celeba.zip; whole or any subset. Only the annotation files in `needs` are
    read: each is the official file (MD5-checked when it lists every image) or a subset in its
    format, and is installed trimmed to the images present. Images are matched to annotation
    rows by file name; hidden and non-image files are ignored and counted; images without a
    landmark row and rows without an image are counted in dest/acquire_report.json.
    """
    source, dest = Path(source), Path(dest)
    if not source.is_dir():
        raise AcquireError(f"faces.acquire.path: {source} is not a folder.\n"
                           + placement_help(source, [f"{needs.image_folder}.zip"
                                                     if needs.image_set == "aligned" else
                                                     f"{needs.image_folder}/", *needs.annotations], files))
    folder, archive = source / needs.image_folder, source / f"{needs.image_folder}.zip"
    if not folder.is_dir() and not archive.is_file():
        hint = (f"extract it first (7z x {needs.image_folder}.7z.001 -o{source})"
                if needs.image_set == "wild" else f"or the official {archive.name}")
        raise AcquireError(f"{source}: no image folder {needs.image_folder}/ ({hint}).\n"
                           + placement_help(source, [archive.name if needs.image_set == "aligned"
                                                     else f"{needs.image_folder}/"], files))
    missing = [n for n in needs.annotations if not (source / n).is_file()]
    if missing:
        raise AcquireError(f"{source}: missing {', '.join(missing)} (read by "
                           f"{'alignment' if len(missing) == 1 and 'landmarks' in missing[0] else 'the chosen stages'}).\n"
                           + placement_help(source, missing, files))
    if needs.openface_csv and not (source / needs.openface_csv).exists():
        raise AcquireError(f"{source / needs.openface_csv}: not found (faces.features.openface.csv). "
                           f"Run OpenFace's FeatureExtraction -fdir {folder} -pose -aus -out_dir "
                           f"{source / Path(needs.openface_csv).parent} on the same images, or "
                           "choose another faces.features.extractor")
    tables = {name: _check_annotation(source / name, files.get(name)) for name in needs.annotations}
    if folder.is_dir() and archive.is_file():
        log.info("%s: using the extracted folder %s/ (the zip is ignored)", source, folder.name)
    elif archive.is_file() and archive.stat().st_size == files[archive.name].size:
        problem = check_file(archive, files[archive.name])
        if problem:
            raise AcquireError(f"{archive}: has the official size but is not the official file "
                               f"({problem})\n" + placement_help(source, [archive.name], files))

    with atomic_path(dest) as tmp:
        tmp.mkdir(parents=True)
        images_dest = tmp / needs.image_folder
        if folder.is_dir():
            listing = list_images(folder)
            images_dest.mkdir()
            for name in tqdm(listing.images, desc=f"copy {folder.name}", unit="img", disable=not progress):
                shutil.copy2(folder / name, images_dest / name)
        else:
            listing = extract_images(archive, images_dest, progress=progress)
        if not listing.images:
            raise AcquireError(f"{folder if folder.is_dir() else archive}: no images "
                               f"(.jpg, .jpeg, .png, .bmp); {listing.describe_ignored()}")
        present = set(listing.images)
        report = {"source": str(source), "image_set": needs.image_set,
                  "images": len(listing.images), "ignored_files": listing.ignored(),
                  # what OpenFace's -fdir would have read as frames beside the images
                  "hidden_image_like": hidden_image_like(listing.hidden),
                  "annotations": {}}
        for name, (table, how) in tables.items():
            kept = table[table.index.isin(present)]
            if len(kept) == len(table) and how.startswith("official"):
                shutil.copy2(source / name, tmp / name)
            elif name == "list_attr_celeba.txt":
                celeba.write_attributes(tmp / name, kept)
            else:
                celeba.write_landmarks(tmp / name, kept)
            without = sorted(present - set(table.index))
            report["annotations"][name] = {
                "accepted_as": how, "rows_installed": len(kept),
                "rows_without_image": len(table) - len(kept),
                "images_without_row": len(without), "images_without_row_examples": without[:20]}
        if needs.openface_csv:
            top = Path(needs.openface_csv).parts[0]
            copy = shutil.copytree if (source / top).is_dir() else shutil.copy2
            copy(source / top, tmp / top)
        save_json(tmp / "acquire_report.json", report)
    landmarks = report["annotations"][needs.annotations[0]]
    log.info("installed %d images from %s (%s); %s: %d rows for images not present (a subset), "
             "%d images without a landmark row (alignment reports them as failed)",
             report["images"], source, listing.describe_ignored(), needs.annotations[0],
             landmarks["rows_without_image"], landmarks["images_without_row"])
    return report


def download(dest: str | Path, needs: Needs, *, url_template: str, staging: str | Path,
             files=CELEBA_FILES, progress: bool = True) -> dict:
    """Fetch the official files the chosen stages read into `staging` (kept, so a rerun
    resumes from what is there), check them, then install into `dest` as from_path does."""
    if needs.image_set != "aligned":
        raise AcquireError("faces.acquire.source: download fetches the aligned image set only (the "
                           "in-the-wild images are a multi-part 7z with no direct link); set "
                           "faces.align.image_set: aligned, or place img_celeba/ and use source: path")
    if needs.openface_csv:
        raise AcquireError("faces.acquire.source: download has no OpenFace output to fetch; choose "
                           "faces.features.extractor: celeba_annotations or landmarks68, or run "
                           "OpenFace yourself and use source: path")
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    failed = {}
    for name in ("img_align_celeba.zip", *needs.annotations):
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
    return from_path(staging, dest, needs, files=files, progress=progress)


# The stage (stages/faces_acquire.py)

def acquire_faces(params, *, source: str, out: str) -> None:
    """CelebA (synthetic, what the researcher has at `source`, or a download) into the raw
    folder. `source` is faces.acquire.path, templated into dvc.yaml as a dependency."""
    from gatedvae.faces import config, synthetic

    kind = config.source(params)
    _check_extractor_installed(params)
    progress = sys.stderr.isatty()
    if kind == "synthetic":
        config.check_faces(params)
        cfg = config.synthetic_config(params)
        synthetic.generate(out, cfg, progress=progress)
        log.info("wrote %d synthetic faces to %s", cfg.n_images, out)
        return
    needs = config.acquire_needs(params)
    if kind == "path":
        # the images that will survive alignment bound every size in params: check them before
        # any copying
        counted = count_alignable(Path(source), needs, config.align_settings(params))
        if not counted:
            config.check_faces(params)
        else:
            try:
                config.check_faces(params, n_images=counted["alignable"])
            except ParamError as e:
                raise ParamError(
                    f"{e}\n  counted at {source}: {counted['found']} images, "
                    f"{counted['without_landmark_row']} without a row in {counted['landmark_file']}, "
                    f"{counted['landmarks_refused']} whose landmarks alignment refuses "
                    f"(faces.align.min_eye_distance, max_residual): {counted['alignable']} can be "
                    "aligned and trained on") from None
        from_path(source, out, needs, progress=progress)
    else:
        config.check_faces(params)
        download(out, needs, url_template=get(params, "faces.acquire.url_template"),
                 staging=get(params, "faces.acquire.download_dir"), progress=progress)


def _check_extractor_installed(params) -> None:
    """The optional landmarks68 extractor needs dlib: say so at the first stage, not the fourth."""
    from gatedvae.faces import config

    if config.extractor(params) == "landmarks68":
        from gatedvae.faces import landmarks68

        if not landmarks68.available():
            raise ParamError("params.yaml: `faces.features.extractor` landmarks68 needs dlib and its "
                             f"68-point model: {landmarks68.INSTALL_HINT} (or choose another extractor)")
