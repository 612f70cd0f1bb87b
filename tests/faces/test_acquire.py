"""Acquisition: CelebA as researchers have it (whole or subsets, folder or zip, MD5 where it claims
to be official), streamed zip extraction, downloads from a local server."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
import zipfile

import pytest

from gatedvae.faces import acquire, celeba
from gatedvae.faces.acquire import AcquireError, OfficialFile
from gatedvae.faces.spec import Needs

ALIGNED = Needs("aligned")


def _release(root, tiny_celeba, *, n=None, zip_images=False, extra_files=()):
    """CelebA as a researcher has it, made from the tiny synthetic set in the real formats:
    img_align_celeba/ (or its zip) with the first n images, and the full annotation files.
    Returns the size/MD5 table of these files as the 'official' ones."""
    raw, _, _ = tiny_celeba
    root.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in (raw / "img_celeba").glob("*.jpg"))[:n]
    if zip_images:
        with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as zf:
            for name in names:
                zf.write(raw / "img_celeba" / name, f"img_align_celeba/{name}")
            for name, data in extra_files:
                zf.writestr(f"img_align_celeba/{name}", data)
    else:
        (root / "img_align_celeba").mkdir()
        for name in names:
            shutil.copy2(raw / "img_celeba" / name, root / "img_align_celeba" / name)
        for name, data in extra_files:
            (root / "img_align_celeba" / name).write_bytes(data)
    shutil.copy2(raw / "list_landmarks_celeba.txt", root / "list_landmarks_align_celeba.txt")
    shutil.copy2(raw / "list_attr_celeba.txt", root / "list_attr_celeba.txt")
    files = {}
    for path in root.iterdir():
        if path.is_file():
            data = path.read_bytes()
            files[path.name] = OfficialFile(path.name, len(data), hashlib.md5(data).hexdigest(), f"id-{path.name}")
    files.setdefault("img_align_celeba.zip", OfficialFile("img_align_celeba.zip", 1, "0" * 32, "id-zip"))
    return files, names


@pytest.fixture
def whole(monkeypatch, tiny_celeba):
    """The tiny set stands for the whole release: 48 images is 'every image'."""
    monkeypatch.setattr(acquire, "N_CELEBA", len(tiny_celeba[1]))


def test_whole_release_from_the_zip_is_md5_checked_and_installed(tmp_path, tiny_celeba, whole):
    files, names = _release(tmp_path / "celeba", tiny_celeba, zip_images=True)
    report = acquire.from_path(tmp_path / "celeba", tmp_path / "raw", ALIGNED, files=files, progress=False)
    assert report["images"] == len(names) == 48
    assert sorted(p.name for p in (tmp_path / "raw" / "img_align_celeba").iterdir()) == names
    landmarks = report["annotations"]["list_landmarks_align_celeba.txt"]
    assert landmarks["accepted_as"] == "official (MD5 checked)" and landmarks["rows_without_image"] == 0
    # installed byte for byte; nothing the stages do not read (attributes, identities) is required
    assert ((tmp_path / "raw" / "list_landmarks_align_celeba.txt").read_bytes()
            == (tmp_path / "celeba" / "list_landmarks_align_celeba.txt").read_bytes())
    assert not (tmp_path / "raw" / "list_attr_celeba.txt").exists()
    assert json.loads((tmp_path / "raw" / "acquire_report.json").read_text())["images"] == 48


def test_a_whole_file_that_is_not_the_official_one_is_refused(tmp_path, tiny_celeba, whole):
    files, _ = _release(tmp_path / "celeba", tiny_celeba)
    path = tmp_path / "celeba" / "list_landmarks_align_celeba.txt"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))  # every row, other bytes
    with pytest.raises(AcquireError, match="lists all 48 images but is not the official file"):
        acquire.from_path(tmp_path / "celeba", tmp_path / "raw", ALIGNED, files=files, progress=False)
    zipped, _ = _release(tmp_path / "zipped", tiny_celeba, zip_images=True)
    archive = tmp_path / "zipped" / "img_align_celeba.zip"
    zipped["img_align_celeba.zip"] = OfficialFile(archive.name, archive.stat().st_size, "f" * 32, "id")
    with pytest.raises(AcquireError, match="has the official size but is not the official file"):
        acquire.from_path(tmp_path / "zipped", tmp_path / "raw", ALIGNED, files=zipped, progress=False)
    assert not (tmp_path / "raw").exists()


def test_an_extracted_subset_is_matched_by_name_and_stray_files_are_counted(tmp_path, tiny_celeba, whole):
    strays = [(".DS_Store", b"\0\0\0\1Bud1"), ("._000003.jpg", b"\0\5\26\7"), ("notes.txt", b"mine")]
    files, names = _release(tmp_path / "celeba", tiny_celeba, n=10, extra_files=strays)
    report = acquire.from_path(tmp_path / "celeba", tmp_path / "raw", ALIGNED, files=files, progress=False)
    assert report["images"] == 10
    assert sorted(p.name for p in (tmp_path / "raw" / "img_align_celeba").iterdir()) == names
    assert report["ignored_files"]["hidden"] == 2 and report["ignored_files"]["not_images"] == 1
    landmarks = report["annotations"]["list_landmarks_align_celeba.txt"]
    assert landmarks["accepted_as"] == "subset of 48 rows" or landmarks["accepted_as"].startswith("official")
    assert landmarks["rows_installed"] == 10 and landmarks["rows_without_image"] == 38
    installed = celeba.read_landmarks(tmp_path / "raw" / "list_landmarks_align_celeba.txt")
    original = celeba.read_landmarks(tmp_path / "celeba" / "list_landmarks_align_celeba.txt")
    assert list(installed.index) == names
    assert installed.equals(original.loc[names])  # rows follow their image by name


def test_a_subset_zip_and_images_without_a_landmark_row(tmp_path, tiny_celeba, whole):
    files, names = _release(tmp_path / "celeba", tiny_celeba, n=12, zip_images=True,
                            extra_files=[("Thumbs.db", b"x")])
    path = tmp_path / "celeba" / "list_landmarks_align_celeba.txt"
    table = celeba.read_landmarks(path)
    celeba.write_landmarks(path, table.drop(index=names[4]).iloc[:30])
    report = acquire.from_path(tmp_path / "celeba", tmp_path / "raw", ALIGNED, files=files, progress=False)
    landmarks = report["annotations"]["list_landmarks_align_celeba.txt"]
    assert report["images"] == 12 and report["ignored_files"]["not_images"] == 1
    assert landmarks["accepted_as"] == "subset of 30 rows"
    assert landmarks["images_without_row"] == 1 and landmarks["images_without_row_examples"] == [names[4]]
    assert landmarks["rows_installed"] == 11 and landmarks["rows_without_image"] == 19


def test_only_the_files_the_chosen_stages_read_are_required(tmp_path, tiny_celeba):
    files, _ = _release(tmp_path / "celeba", tiny_celeba, n=5)
    (tmp_path / "celeba" / "list_attr_celeba.txt").unlink()
    acquire.from_path(tmp_path / "celeba", tmp_path / "a", ALIGNED, files=files, progress=False)
    with pytest.raises(AcquireError, match="missing list_attr_celeba.txt"):
        acquire.from_path(tmp_path / "celeba", tmp_path / "b", Needs("aligned", attributes=True),
                          files=files, progress=False)
    with pytest.raises(AcquireError, match=r"openface/img_align_celeba.csv: not found \(faces.features.openface.csv\)"):
        acquire.from_path(tmp_path / "celeba", tmp_path / "c",
                          Needs("aligned", openface_csv="openface/img_align_celeba.csv"), files=files, progress=False)
    (tmp_path / "celeba" / "openface").mkdir()
    (tmp_path / "celeba" / "openface" / "img_align_celeba.csv").write_text("frame\n")
    acquire.from_path(tmp_path / "celeba", tmp_path / "d",
                      Needs("aligned", openface_csv="openface/img_align_celeba.csv"), files=files, progress=False)
    assert (tmp_path / "d" / "openface" / "img_align_celeba.csv").exists()


def test_missing_images_say_where_to_place_them(tmp_path, tiny_celeba):
    files, _ = _release(tmp_path / "celeba", tiny_celeba, n=3)
    shutil.rmtree(tmp_path / "celeba" / "img_align_celeba")
    with pytest.raises(AcquireError) as err:
        acquire.from_path(tmp_path / "celeba", tmp_path / "raw", ALIGNED, files=files, progress=False)
    assert "no image folder img_align_celeba/" in str(err.value)
    assert "faces.acquire.path" in str(err.value) and "img_align_celeba.zip" in str(err.value)
    with pytest.raises(AcquireError, match=r"7z x img_celeba.7z.001"):
        acquire.from_path(tmp_path / "celeba", tmp_path / "raw", Needs("wild"), files=files, progress=False)
    with pytest.raises(AcquireError, match="is not a folder"):
        acquire.from_path(tmp_path / "nowhere", tmp_path / "raw", ALIGNED, files=files, progress=False)


def test_html_saved_as_an_annotation_file_is_recognised(tmp_path, tiny_celeba):
    files, _ = _release(tmp_path / "celeba", tiny_celeba, n=3)
    page = b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head></html>"
    (tmp_path / "celeba" / "list_landmarks_align_celeba.txt").write_bytes(page)
    with pytest.raises(AcquireError, match="list_landmarks_align_celeba.txt: an HTML page, not the file"):
        acquire.from_path(tmp_path / "celeba", tmp_path / "raw", ALIGNED, files=files, progress=False)


def test_zip_members_install_by_name_inside_the_folder(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("../outside.jpg", b"\xff\xd8one")
        zf.writestr("__MACOSX/img_align_celeba/._inside.jpg", b"fork")
        zf.writestr("deep/er/inside.jpg", b"\xff\xd8two")
    listing = acquire.extract_images(tmp_path / "a.zip", tmp_path / "out", progress=False)
    # a member path through `..` or a dot folder is left out and counted, never written outside
    assert listing.images == ["inside.jpg"] and len(listing.hidden) == 2
    assert not (tmp_path / "outside.jpg").exists() and not (tmp_path / "out" / "outside.jpg").exists()
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.writestr("x/000001.jpg", b"1")
        zf.writestr("y/000001.jpg", b"2")
    with pytest.raises(AcquireError, match="two members are named 000001.jpg"):
        acquire.extract_images(tmp_path / "b.zip", tmp_path / "out2", progress=False)


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


def _served(tmp_path, tiny_celeba):
    files, _ = _release(tmp_path / "release", tiny_celeba, zip_images=True)
    files["img_align_celeba.zip"] = OfficialFile(
        "img_align_celeba.zip", (tmp_path / "release" / "img_align_celeba.zip").stat().st_size,
        hashlib.md5((tmp_path / "release" / "img_align_celeba.zip").read_bytes()).hexdigest(), "id-img_align_celeba.zip")
    routes = {f"/uc?id={spec.drive_id}": ("application/octet-stream", (tmp_path / "release" / name).read_bytes())
              for name, spec in files.items()}
    return files, routes


def test_download_from_a_local_server(tmp_path, tiny_celeba, whole):
    files, routes = _served(tmp_path, tiny_celeba)
    with _Server(routes) as server:
        report = acquire.download(tmp_path / "raw", Needs("aligned", attributes=True),
                                  url_template=server.url + "/uc?id={id}", staging=tmp_path / "staging",
                                  files=files, progress=False)
    assert report["images"] == 48
    assert ((tmp_path / "raw" / "list_attr_celeba.txt").read_bytes()
            == (tmp_path / "release" / "list_attr_celeba.txt").read_bytes())
    with pytest.raises(AcquireError, match="aligned image set only"):
        acquire.download(tmp_path / "raw", Needs("wild"), url_template="http://x/{id}",
                         staging=tmp_path / "staging", files=files, progress=False)


def test_download_served_html_names_each_file_and_where_to_put_it(tmp_path, tiny_celeba):
    files, routes = _served(tmp_path, tiny_celeba)
    page = b"<html><body>Google Drive can't scan this file for viruses. Sign in.</body></html>"
    routes["/uc?id=id-img_align_celeba.zip"] = ("text/html; charset=utf-8", page)
    routes["/uc?id=id-list_attr_celeba.txt"] = ("application/octet-stream", page)  # no content type hint
    with _Server(routes) as server:
        with pytest.raises(AcquireError) as err:
            acquire.download(tmp_path / "raw", Needs("aligned", attributes=True),
                             url_template=server.url + "/uc?id={id}", staging=tmp_path / "staging",
                             files=files, progress=False)
    message = str(err.value)
    assert "img_align_celeba.zip: " in message and "list_attr_celeba.txt: " in message
    assert message.count("HTML page") == 2
    assert f"{tmp_path / 'staging' / 'img_align_celeba.zip'}  (" in message
    assert "faces.acquire.source: path" in message
    # the good files stay in staging, so a rerun only fetches the missing ones
    assert (tmp_path / "staging" / "list_landmarks_align_celeba.txt").exists()
    assert not (tmp_path / "staging" / "img_align_celeba.zip").exists() and not (tmp_path / "raw").exists()


def _path_params(params, source, **evaluate):
    """The tiny params reading `source` as a path source of aligned images."""
    import copy

    params = copy.deepcopy(params)
    faces = params["faces"]
    faces["acquire"].update(source="path", path=str(source))
    faces["align"]["image_set"] = "aligned"
    faces["features"]["extractor"] = "celeba_annotations"
    faces["evaluate"].update(evaluate)
    return params


def _aligned_source(tmp_path, tiny_celeba, drop_rows=0):
    """The tiny set as an aligned-image release, its landmark file missing the last `drop_rows`
    images' rows."""
    root, _, _ = tiny_celeba
    source = tmp_path / "celeba"
    shutil.copytree(root / "img_celeba", source / "img_align_celeba")
    shutil.copy2(root / "list_attr_celeba.txt", source)
    landmarks = celeba.read_landmarks(root / "list_landmarks_celeba.txt")
    celeba.write_landmarks(source / "list_landmarks_align_celeba.txt", landmarks.iloc[:len(landmarks) - drop_rows])
    return source


def test_sizes_are_checked_against_the_images_alignment_will_keep(tmp_path, tiny_celeba, tiny_params):
    """48 images, 2 without a landmark row: 46 survive alignment, so asking for 46 + 2 evaluation
    images stops the first stage, naming the key and the count (before, it passed acquisition,
    alignment, features and clustering, and failed at training)."""
    from gatedvae.params import ParamError

    source = _aligned_source(tmp_path, tiny_celeba, drop_rows=2)
    params = _path_params(tiny_params, source, n_train=40, n_test=8)
    with pytest.raises(ParamError, match=r"(?s)`faces.evaluate.n_train` \+ faces.evaluate.n_test \(40 \+ 8\) "
                                         r"exceed the data \(46 images\).*counted at .*celeba: 48 images, "
                                         r"2 without a row in .*list_landmarks_align_celeba.txt, 0 whose "
                                         r"landmarks alignment refuses.*46 can be aligned"):
        acquire.acquire_faces(params, source=str(source), out=str(tmp_path / "raw"))
    assert not (tmp_path / "raw").exists()
    params = _path_params(tiny_params, source, n_train=30, n_test=16)   # 46: fits
    acquire.acquire_faces(params, source=str(source), out=str(tmp_path / "raw"))
    assert (tmp_path / "raw" / "img_align_celeba").is_dir()


def test_too_few_images_for_two_clusters_stop_the_first_stage(tmp_path, tiny_celeba, tiny_params):
    """30 images at faces.cluster.min_mean_size 40 would give each partition one cluster (every
    pair shares it): before, only an INFO line, then a traceback in faces_evaluate after training."""
    from gatedvae.params import ParamError

    source = _aligned_source(tmp_path, tiny_celeba, drop_rows=18)
    params = _path_params(tiny_params, source, n_train=20, n_test=8)
    params["faces"]["cluster"]["min_mean_size"] = 40
    params["faces"]["train"]["batch_size"] = 16
    with pytest.raises(ParamError, match=r"`faces.cluster.min_mean_size` \(40\) leaves pose 0 cluster\(s\) "
                                         r"for 30 images .*lower it to 15 or less"):
        acquire.acquire_faces(params, source=str(source), out=str(tmp_path / "raw"))
    assert not (tmp_path / "raw").exists()
