"""A service's answer becomes one short line, never a pasted HTML or XML body: botocore's
errors from a server that answers with a web page (an emulator missing a route, a proxy's
error page), seen in process and through ``lakeroutine run`` the way a user meets them.
(Azure's XML and google-api-core's JSON bodies: each plugin's tests, against its emulator.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lakeroutine.service_errors import service_error_text, short_message

NOT_FOUND_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again.</p>\n"
)
PROXY_PAGE = (
    "<html><head><title>Request refused by the corporate proxy</title></head><body>"
    + "<p>policy text</p>" * 200
    + "</body></html>"
)


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def page_server() -> Iterator[dict]:
    """A loopback HTTP server answering every request with ``answer`` (status, body)."""
    answer = {"status": 404, "body": NOT_FOUND_PAGE, "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer["requests"] += 1
            body = answer["body"].encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = _PageServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield answer
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(key, value)


def test_botocore_error_with_an_html_page_is_cut_to_status_and_title(page_server, fake_aws):
    import boto3

    client = boto3.client("glue", endpoint_url=page_server["url"])
    with pytest.raises(Exception) as caught:
        client.get_database(Name="lake")
    assert "<" in str(caught.value)  # what botocore itself says: the whole page
    assert service_error_text(caught.value) == "GetDatabase: HTTP 404: 404 Not Found"


def test_a_long_proxy_page_becomes_its_title(page_server, fake_aws):
    import boto3

    page_server.update(status=400, body=PROXY_PAGE)
    client = boto3.client("s3", endpoint_url=page_server["url"])
    with pytest.raises(Exception) as caught:
        client.list_objects_v2(Bucket="lake")
    text = service_error_text(caught.value)
    assert text.startswith("ListObjectsV2: HTTP 400")
    assert "Request refused by the corporate proxy" in text or text.endswith("HTTP 400")
    assert "<" not in text and len(text) < 300


def test_xml_error_documents_give_their_message() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
        "<Message>The specified bucket does not exist</Message><BucketName>x</BucketName></Error>"
    )
    assert short_message(body) == "The specified bucket does not exist"
    assert short_message("first line\nsecond line") == "first line"
    assert short_message("x" * 500).endswith("...") and len(short_message("x" * 500)) == 200
    assert short_message("") == ""


def test_run_refused_by_an_html_answer_says_one_line(page_server, tmp_path):
    """The reported symptom: Athena's preflight answered by an emulator's HTML 404 page."""
    routine = tmp_path / "routine.json"
    routine.write_text(
        json.dumps(
            {
                "routine_name": "html404",
                "executors": {
                    "AthenaExecutor": {
                        "params": {
                            "database": "lake",
                            "output_location": "s3://results/",
                            "endpoint_url": page_server["url"],
                        },
                        "tasks": ["create_database"],
                    }
                },
            }
        )
    )
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "LAKEROUTINE_PLUGINS": "athena",
    }
    done = subprocess.run(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(routine), "--state", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors, done.stderr
    assert "HTTP 404" in done.stderr and "404 Not Found" in done.stderr
    assert "<" not in done.stderr and "doctype" not in done.stderr.lower()
    assert page_server["requests"] >= 1


def test_an_error_that_is_not_a_service_answer_keeps_its_whole_text():
    """A long message of our own (a corrupt state object and its way out) is not cut."""
    text = "state object s3://b/k is corrupt (not JSON); " + "x" * 300 + " clear it with: X"
    assert service_error_text(ValueError(text)) == text
    page = ValueError("<html><title>502 Bad Gateway</title></html>")
    assert service_error_text(page) == "502 Bad Gateway"
