"""Acquisition: MD5-checked local copies, streamed zip extraction, downloads from a local server."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile

import pytest

from gatedvae.faces import acquire
from gatedvae.faces.acquire import AcquireError, OfficialFile

ANNOTATIONS = {
    "list_landmarks_align_celeba.txt": b"1\r\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x "
                                       b"leftmouth_y rightmouth_x rightmouth_y\r\n000001.jpg 69 109 106 113 77 142 73 152 108 154\r\n",
    "list_attr_celeba.txt": b"attributes\r\n",
    "list_eval_partition.txt": b"000001.jpg 0\r\n",
    "identity_CelebA.txt": b"000001.jpg 2880\r\n",
}


def _official_folder(root, *, with_zip=True):
    """A miniature CelebA release and the matching size/MD5 table."""
    root.mkdir(parents=True, exist_ok=True)
    contents = dict(ANNOTATIONS)
    if with_zip:
        with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as zf:
            zf.writestr("img_align_celeba/000001.jpg", b"\xff\xd8jpeg-bytes-1" * 100)
            zf.writestr("img_align_celeba/000002.jpg", b"\xff\xd8jpeg-bytes-2" * 100)
        contents["img_align_celeba.zip"] = (root / "img_align_celeba.zip").read_bytes()
    for name, data in ANNOTATIONS.items():
        (root / name).write_bytes(data)
    files = {name: OfficialFile(name, len(data), hashlib.md5(data).hexdigest(), f"id-{name}")
             for name, data in contents.items()}
    if not with_zip:
        files["img_align_celeba.zip"] = OfficialFile("img_align_celeba.zip", 10, "0" * 32, "id-zip")
    return files, contents


def test_path_source_checks_and_extracts(tmp_path):
    files, _ = _official_folder(tmp_path / "official")
    summary = acquire.from_path(tmp_path / "official", tmp_path / "raw", files=files, progress=False)
    assert summary["images"] == 2
    assert (tmp_path / "raw" / "img_align_celeba" / "000002.jpg").read_bytes().startswith(b"\xff\xd8jpeg-bytes-2")
    assert (tmp_path / "raw" / "list_eval_partition.txt").read_bytes() == ANNOTATIONS["list_eval_partition.txt"]


def test_path_source_accepts_an_extracted_folder(tmp_path):
    files, _ = _official_folder(tmp_path / "official", with_zip=False)
    (tmp_path / "official" / "img_align_celeba").mkdir()
    (tmp_path / "official" / "img_align_celeba" / "000001.jpg").write_bytes(b"x")
    summary = acquire.from_path(tmp_path / "official", tmp_path / "raw", files=files, progress=False)
    assert summary["images"] == 1 and "img_align_celeba/" in summary["files"]


def test_md5_mismatch_and_missing_files_say_where_to_place_them(tmp_path):
    files, _ = _official_folder(tmp_path / "official")
    (tmp_path / "official" / "list_attr_celeba.txt").write_bytes(b"Attributes\r\n")  # same size, other bytes
    (tmp_path / "official" / "identity_CelebA.txt").unlink()
    with pytest.raises(AcquireError) as err:
        acquire.from_path(tmp_path / "official", tmp_path / "raw", files=files, progress=False)
    message = str(err.value)
    assert f"{tmp_path / 'official' / 'list_attr_celeba.txt'}: MD5 " in message
    assert f"{tmp_path / 'official' / 'identity_CelebA.txt'}: missing" in message
    assert "faces.acquire.source: path" in message and files["identity_CelebA.txt"].md5 in message
    assert not (tmp_path / "raw").exists()


def test_html_saved_as_a_file_is_recognised(tmp_path):
    files, _ = _official_folder(tmp_path / "official")
    page = b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head></html>"
    (tmp_path / "official" / "list_eval_partition.txt").write_bytes(page)
    with pytest.raises(AcquireError, match="list_eval_partition.txt: an HTML page, not the file"):
        acquire.from_path(tmp_path / "official", tmp_path / "raw", files=files, progress=False)


def test_zip_member_escaping_the_folder_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../outside.txt", b"no")
    (tmp_path / "out").mkdir()
    with pytest.raises(AcquireError, match="outside"):
        acquire.extract_zip(tmp_path / "evil.zip", tmp_path / "out", progress=False)
    assert not (tmp_path / "outside.txt").exists()


class _Server:
    """A real HTTP server on 127.0.0.1 serving `routes` (path -> (content type, body))."""

    def __init__(self, routes):
        routes_ = routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                if self.path not in routes_:
                    self.send_error(404)
                    return
                kind, body = routes_[self.path]
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_from_a_local_server(tmp_path):
    files, contents = _official_folder(tmp_path / "release")
    routes = {f"/uc?id=id-{name}": ("application/octet-stream", data) for name, data in contents.items()}
    with _Server(routes) as server:
        summary = acquire.download(tmp_path / "raw", url_template=server.url + "/uc?id={id}",
                                   staging=tmp_path / "staging", files=files, progress=False)
    assert summary["images"] == 2
    assert (tmp_path / "raw" / "identity_CelebA.txt").read_bytes() == ANNOTATIONS["identity_CelebA.txt"]


def test_download_served_html_names_each_file_and_where_to_put_it(tmp_path):
    files, contents = _official_folder(tmp_path / "release")
    page = b"<html><body>Google Drive can't scan this file for viruses. Sign in.</body></html>"
    routes = {f"/uc?id=id-{name}": ("application/octet-stream", data) for name, data in contents.items()}
    routes["/uc?id=id-img_align_celeba.zip"] = ("text/html; charset=utf-8", page)
    routes["/uc?id=id-list_attr_celeba.txt"] = ("application/octet-stream", page)  # no content type hint
    with _Server(routes) as server:
        with pytest.raises(AcquireError) as err:
            acquire.download(tmp_path / "raw", url_template=server.url + "/uc?id={id}",
                             staging=tmp_path / "staging", files=files, progress=False)
    message = str(err.value)
    assert "img_align_celeba.zip: " in message and "list_attr_celeba.txt: " in message
    assert message.count("HTML page") == 2
    assert f"{tmp_path / 'staging' / 'img_align_celeba.zip'}  (" in message
    assert "faces.acquire.source: path" in message
    # the good files stay in staging, so a rerun only fetches the missing ones
    assert (tmp_path / "staging" / "identity_CelebA.txt").exists()
    assert not (tmp_path / "staging" / "img_align_celeba.zip").exists() and not (tmp_path / "raw").exists()
