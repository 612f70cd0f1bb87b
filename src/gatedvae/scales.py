"""`gatedvae scale NAME`: switch params.yaml between the tiny, default and paper scales.

Each scale is an overlay in configs/scales/NAME.yaml that sets the same keys; applying it edits
only those keys of params.yaml, so every other choice in params.yaml is kept. Comments and key
order survive because values are replaced in the text, line by line.

A scale sets budgets (sizes, epochs, seeds), never where the data come from: an overlay that
names a source, path, image set or extractor is refused. On a dSprites file that holds fewer
images than the scale asks for, the scale takes all of them (n_images 0) and says so.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from gatedvae.atomic import save_text
from gatedvae.params import ParamError

SCALES_DIR = Path("configs/scales")


def available(scales_dir: Path = SCALES_DIR) -> list[str]:
    return sorted(p.stem for p in scales_dir.glob("*.yaml"))


# The last part of a key that says where data come from; a scale never sets one.
DATA_CHOICES = ("source", "path", "image_set", "extractor", "csv", "url", "url_template", "md5",
                "download_dir")


def overlay(name: str, scales_dir: Path = SCALES_DIR) -> dict[str, object]:
    path = scales_dir / f"{name}.yaml"
    if not path.exists():
        raise ParamError(f"unknown scale {name!r}; available: {available(scales_dir)} (in {scales_dir})")
    values = flatten(yaml.safe_load(path.read_text()) or {})
    chosen = [key for key in values if key.rsplit(".", 1)[-1] in DATA_CHOICES]
    if chosen:
        raise ParamError(f"{path}: sets {', '.join(chosen)}: a scale sets budgets only, never where "
                         "the data come from (set those in params.yaml)")
    return values


def _fit_to_the_data(values: dict[str, object], params: dict, notes: list[str]) -> dict[str, object]:
    """A dSprites file holding fewer images than the scale's n_images: take them all."""
    key = "dsprites.acquire.n_images"
    acquire = (params.get("dsprites") or {}).get("acquire") or {}
    if key not in values or acquire.get("source") != "path" or not values[key]:
        return values
    from gatedvae.dsprites.data import held_rows

    try:
        held = held_rows(acquire.get("path"))
    except (OSError, ValueError):
        return values  # an unreadable file is the acquire stage's error to report
    if values[key] > held:
        notes.append(f"{key}: the scale asks for {values[key]:,} but {acquire.get('path')} holds "
                     f"{held:,}; set to 0 (all of them)")
        values = {**values, key: 0}
    return values


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _set_in_text(text: str, dotted: str, value: object, path: Path) -> str:
    """Replace the value of one nested key in YAML text, keeping everything else byte for byte."""
    lines = text.splitlines(keepends=True)
    parts = dotted.split(".")
    start, end, indent = 0, len(lines), -1
    for depth, part in enumerate(parts):
        pattern = re.compile(rf"^(\s*){re.escape(part)}:(\s*)(.*?)(\s+#.*)?$")
        for i in range(start, end):
            m = pattern.match(lines[i].rstrip("\n"))
            if m and (len(m.group(1)) > indent if depth else m.group(1) == ""):
                indent = len(m.group(1))
                if depth == len(parts) - 1:
                    rendered = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
                    rendered = rendered.removesuffix("\n...").removesuffix("...").strip()
                    # a value written over several lines (a flow list wrapped, a block list):
                    # its lines are those below the key indented deeper, up to a blank or
                    # comment line
                    following = i + 1
                    while following < end and lines[following].strip() and \
                            not lines[following].lstrip().startswith("#") and \
                            len(lines[following]) - len(lines[following].lstrip()) > indent:
                        following += 1
                    # keep the comment and the exact gap before it, so switching back restores
                    # the file byte for byte (a value on one line stays on one line)
                    lines[i:following] = [f"{m.group(1)}{part}: {rendered}{m.group(4) or ''}\n"]
                    return "".join(lines)
                # the block of this key ends at the next line indented no deeper
                start = i + 1
                for j in range(i + 1, end):
                    stripped = lines[j].strip()
                    if stripped and not stripped.startswith("#") and \
                            len(lines[j]) - len(lines[j].lstrip()) <= indent:
                        end = j
                        break
                break
        else:
            raise ParamError(f"{path}: key `{dotted}` not found; the scale overlay sets it")
    raise ParamError(f"{path}: key `{dotted}` is a section, not a value")


def apply_scale(name: str, params_path: str | Path = "params.yaml",
                scales_dir: str | Path = SCALES_DIR, notes: list[str] | None = None) -> dict[str, object]:
    """Rewrite params.yaml with the overlay's values; returns the keys and values set (and
    appends to `notes` where a value was fitted to the data)."""
    params_path, scales_dir = Path(params_path), Path(scales_dir)
    text = params_path.read_text()
    values = _fit_to_the_data(overlay(name, scales_dir), yaml.safe_load(text) or {},
                              notes if notes is not None else [])
    for dotted, value in values.items():
        text = _set_in_text(text, dotted, value, params_path)
    # the edited text must still parse and hold exactly the overlay's values
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ParamError(f"{params_path}: scale {name!r} would leave it unreadable ({e}); the file is "
                         "unchanged. Write each value the scales set on one line, as `key: value`") from e
    for dotted, value in values.items():
        node = parsed
        for part in dotted.split("."):
            node = node[part]
        if node != value:
            raise ParamError(f"{params_path}: could not set `{dotted}` to {value!r}")
    save_text(params_path, text)
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="tiny | default | paper (files in configs/scales/)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scales-dir", default=str(SCALES_DIR))


def run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    values = apply_scale(args.name, args.params, args.scales_dir, notes)
    print(f"{args.params}: scale {args.name!r} applied (budgets only; data sources untouched)")
    for key, value in values.items():
        print(f"  {key}: {value}")
    for note in notes:
        print(f"note: {note}")
    print("next: `dvc repro` (or `gatedvae flow run`)")
    return 0
