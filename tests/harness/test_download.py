"""gatedvae.download against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from dsprites_http import Route, closed_port, start_server
from gatedvae.download import DownloadError, fetch, looks_like_html, md5sum

PAYLOAD = np.random.default_rng(0).integers(0, 256, 3 * (1 << 20) + 123, np.uint8).tobytes()
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
HTML = b"<!DOCTYPE html>\n<html><body>Quota exceeded. Sign in to continue.</body></html>\n"


@pytest.fixture(scope="module")
def server():
    state, stop = start_server()
    state.routes.update({
        "/file.bin": Route(PAYLOAD),
        "/quota.html": Route(HTML, content_type="text/html; charset=utf-8"),
        "/disguised.bin": Route(b"\n  " + HTML),  # HTML sent as application/octet-stream
        "/truncated.bin": Route(PAYLOAD[:1000], announce_extra=5000),
        "/slow.bin": Route(PAYLOAD[:10], delay=1.0),
        "/gone.bin": Route(b"gone", status=410, content_type="text/plain"),
    })
    yield state
    stop()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_md5sum_known_answers(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    assert md5sum(tmp_path / "abc") == "900150983cd24fb0d6963f7d28e17f72"
    (tmp_path / "big").write_bytes(PAYLOAD)
    assert md5sum(tmp_path / "big", chunk=4096) == PAYLOAD_MD5


def test_fetch_writes_the_file_and_checks_md5(server, tmp_path):
    dest = tmp_path / "sub" / "file.bin"
    got = fetch(server.url("/file.bin"), dest, md5=PAYLOAD_MD5, expected_size=len(PAYLOAD),
                chunk=65536)
    assert got == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["file.bin"]


def test_fetch_skips_a_file_that_is_already_there(server, tmp_path):
    dest = tmp_path / "file.bin"
    fetch(server.url("/file.bin"), dest, md5=PAYLOAD_MD5)
    hits = server.hits["/file.bin"]
    fetch(server.url("/file.bin"), dest, md5=PAYLOAD_MD5.upper())
    assert server.hits["/file.bin"] == hits


def test_fetch_replaces_a_wrong_file_that_is_there(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"stale")
    fetch(server.url("/file.bin"), dest, md5=PAYLOAD_MD5)
    assert md5sum(dest) == PAYLOAD_MD5


def test_md5_mismatch_raises_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "file.bin"
    wrong = "0" * 32
    with pytest.raises(DownloadError) as err:
        fetch(server.url("/file.bin"), dest, md5=wrong)
    message = str(err.value)
    assert server.url("/file.bin") in message
    assert wrong in message and PAYLOAD_MD5 in message
    assert str(dest) in message  # says where to put the file by hand
    assert leftovers(tmp_path) == []


def test_size_mismatch_raises(server, tmp_path):
    with pytest.raises(DownloadError, match=f"expected {len(PAYLOAD) + 1:,} bytes"):
        fetch(server.url("/file.bin"), tmp_path / "f", expected_size=len(PAYLOAD) + 1)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("path", ["/quota.html", "/disguised.bin"])
def test_an_html_page_is_refused(server, tmp_path, path):
    with pytest.raises(DownloadError, match="HTML page") as err:
        fetch(server.url(path), tmp_path / "file.bin", md5=PAYLOAD_MD5)
    assert server.url(path) in str(err.value)
    assert leftovers(tmp_path) == []


def test_http_error_status(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 410") as err:
        fetch(server.url("/gone.bin"), tmp_path / "file.bin")
    assert server.url("/gone.bin") in str(err.value)
    assert leftovers(tmp_path) == []


def test_a_connection_that_ends_early(server, tmp_path):
    with pytest.raises(DownloadError) as err:
        fetch(server.url("/truncated.bin"), tmp_path / "file.bin")
    assert server.url("/truncated.bin") in str(err.value)
    assert leftovers(tmp_path) == []


def test_timeout(server, tmp_path):
    with pytest.raises(DownloadError, match="timed out") as err:
        fetch(server.url("/slow.bin"), tmp_path / "file.bin", timeout=0.2)
    assert server.url("/slow.bin") in str(err.value)
    assert leftovers(tmp_path) == []


def test_connection_refused(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/file.bin"
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "file.bin", md5=PAYLOAD_MD5)
    assert url in str(err.value)
    assert "ConnectionError" in str(err.value)
    assert leftovers(tmp_path) == []


def test_hint_replaces_the_default_advice(server, tmp_path):
    with pytest.raises(DownloadError, match="set source: path"):
        fetch(server.url("/gone.bin"), tmp_path / "f", hint="Or set source: path.")


def test_html_sniffing():
    assert looks_like_html(b"\xef\xbb\xbf  <!doctype HTML><html>")
    assert looks_like_html(b"<html lang='en'>")
    assert not looks_like_html(b"PK\x03\x04 zip data <html>")
    assert not looks_like_html(b"")
