"""Which files in a folder are images: the one rule every faces stage uses.

An image is a file whose name does not start with a dot and ends in .jpg, .jpeg, .png or .bmp
(any case): the suffixes OpenFace's `-fdir` reads, so that frame k of its CSV is image k here.
Hidden files (.DS_Store, ._000001.jpg from macOS) and other files (notes, thumbnails.db) are
ignored and counted, never matched to a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


@dataclass
class Listing:
    images: list[str]                                   # sorted file names
    hidden: list[str] = field(default_factory=list)     # names starting with a dot
    other: list[str] = field(default_factory=list)      # neither hidden nor an image

    def ignored(self) -> dict:
        """Counts and a few examples of what was left out, for reports."""
        return {"hidden": len(self.hidden), "not_images": len(self.other),
                "examples": (self.hidden + self.other)[:10]}

    def describe_ignored(self) -> str:
        if not self.hidden and not self.other:
            return "no other files"
        return (f"ignored {len(self.hidden)} hidden and {len(self.other)} non-image files "
                f"(e.g. {', '.join((self.hidden + self.other)[:3])})")


def list_images(folder: str | Path) -> Listing:
    """The images in `folder` (not recursive), sorted by name as OpenFace sorts them."""
    listing = Listing(images=[])
    for path in sorted(Path(folder).iterdir(), key=lambda p: p.name):
        if path.name.startswith("."):
            listing.hidden.append(path.name)
        elif path.is_file() and is_image_name(path.name):
            listing.images.append(path.name)
        else:
            listing.other.append(path.name)
    return listing
