"""Download one file over HTTP(S), checked, with nothing half-written left behind.

`fetch` streams into a temporary file beside the destination, checks size and MD5, refuses an
HTML page served in place of the file (what quota and sign-in pages look like), and renames the
temporary file onto the destination only when every check passed. Any failure raises
`DownloadError` whose message names the URL, what was expected and what arrived, and what the
user can do instead.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import requests
from tqdm import tqdm

from gatedvae.errors import StageError

_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


class DownloadError(StageError, RuntimeError):
    """A download failed or arrived wrong; the message says what to do instead."""


def md5sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks so that large files need little memory."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def looks_like_html(first_bytes: bytes) -> bool:
    """True when a payload starts like an HTML document (after whitespace and a BOM)."""
    head = first_bytes.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(_HTML_STARTS)


def fetch(url: str, dest: str | os.PathLike, *, md5: str | None = None,
          expected_size: int | None = None, desc: str | None = None, timeout: float = 60,
          chunk: int = 1 << 20, hint: str | None = None) -> Path:
    """Download `url` to `dest` and return `dest`.

    Skips the download when `dest` already exists and matches `md5`. `hint` replaces the
    default advice at the end of error messages (say how to place the file by hand).
    """
    dest = Path(dest)
    md5 = md5.lower() if md5 else None
    advice = hint or (f"Download it by hand (e.g. in a browser) and place it at {dest}"
                      + (f" (md5 {md5})" if md5 else "") + ", then use that local copy.")
    if md5 and dest.is_file() and md5sum(dest, chunk) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got_md5, got_size = _stream(url, out, timeout=timeout, chunk=chunk,
                                        desc=desc or dest.name, advice=advice)
        if expected_size is not None and got_size != expected_size:
            raise DownloadError(f"{url}: expected {expected_size:,} bytes, got {got_size:,}. "
                                + advice)
        if md5 and got_md5 != md5:
            raise DownloadError(f"{url}: MD5 mismatch: expected {md5}, got {got_md5} "
                                f"({got_size:,} bytes). " + advice)
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def _stream(url: str, out, *, timeout: float, chunk: int, desc: str,
            advice: str) -> tuple[str, int]:
    """Write the response body of `url` to `out`; return its MD5 and size."""
    digest = hashlib.md5()
    size = 0
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code >= 400:
                raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}, "
                                    "expected the file. " + advice)
            content_type = response.headers.get("Content-Type", "")
            if content_type.split(";")[0].strip().lower() == "text/html":
                raise DownloadError(f"{url}: the server sent an HTML page (Content-Type "
                                    f"{content_type!r}), not the file; often a quota, "
                                    "sign-in or error page. " + advice)
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isdigit() else None
            if response.headers.get("Content-Encoding", "identity") != "identity":
                announced = None  # the length counts compressed bytes; we count decoded ones
            with tqdm(total=announced, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=desc, disable=None, leave=False) as bar:
                for block in response.iter_content(chunk_size=chunk):
                    if size == 0 and looks_like_html(block[:512]):
                        raise DownloadError(f"{url}: the server sent an HTML page, not the "
                                            "file; often a quota, sign-in or error page. "
                                            + advice)
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    bar.update(len(block))
    except requests.Timeout as e:
        raise DownloadError(f"{url}: timed out after {timeout} s ({e}). " + advice) from e
    except requests.RequestException as e:
        raise DownloadError(f"{url}: could not download ({type(e).__name__}: {e}). "
                            + advice) from e
    if announced is not None and size != announced:
        raise DownloadError(f"{url}: the connection ended after {size:,} of {announced:,} "
                            "bytes. Try again, or: " + advice)
    return digest.hexdigest(), size
