"""Transports come from the OpenLineage client, configured its usual way (OPENLINEAGE_URL,
openlineage.yml): HTTP to a Marquez-compatible endpoint on loopback, composite, console. A
dead or stalled endpoint never fails a run: one warning per run, the rest dropped."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys

from lakeroutine import run_routine
from lr_lineage_probe import probe_routine, registry
from lr_openlineage_helpers import LineageServer, read_events, validate_event

DECLARE = {"task": "declare", "args": {"writes": [{"url": "s3://lake/out/"}]}}


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "lakeroutine.openlineage" and r.levelno >= logging.WARNING
    ]


def test_http_transport_from_openlineage_url(tmp_path, monkeypatch):
    with LineageServer() as server:
        monkeypatch.setenv("OPENLINEAGE_URL", server.url)
        result = run_routine(probe_routine(tmp_path, DECLARE, "declare"), registry=registry())
        assert result.ok
    paths = {path for path, _, _ in server.received}
    assert paths == {"/api/v1/lineage"}
    events = [body for _, _, body in server.received]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("probe.lake.declare", "START"),
        ("probe.lake.declare", "COMPLETE"),
        ("probe.lake.declare#2", "START"),
        ("probe.lake.declare#2", "COMPLETE"),
    ]
    for event in events:
        validate_event(event)
    assert events[1]["outputs"][0]["namespace"] == "s3://lake"


def test_http_api_key_goes_in_the_header_and_nowhere_else(tmp_path, monkeypatch, caplog):
    with LineageServer() as server:
        monkeypatch.setenv("OPENLINEAGE_URL", server.url)
        monkeypatch.setenv("OPENLINEAGE_API_KEY", "ol-key-1234567")
        with caplog.at_level(logging.DEBUG):
            run_routine(probe_routine(tmp_path, DECLARE), registry=registry())
    headers = [h for _, h, _ in server.received]
    assert headers and all(h.get("Authorization") == "Bearer ol-key-1234567" for h in headers)
    assert all("ol-key" not in str(body) for _, _, body in server.received)


def test_composite_transport_from_openlineage_yml(tmp_path, monkeypatch):
    events_file = tmp_path / "events.jsonl"
    with LineageServer() as server:
        config = tmp_path / "openlineage.yml"
        config.write_text(
            "transport:\n"
            "  type: composite\n"
            "  transports:\n"
            "    marquez:\n"
            "      type: http\n"
            f"      url: {server.url}\n"
            "    archive:\n"
            "      type: file\n"
            f"      log_file_path: {events_file}\n"
            "      append: true\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
        run_routine(probe_routine(tmp_path, DECLARE), registry=registry())
    sent = [body for _, _, body in server.received]
    written = read_events(events_file)
    assert [e["eventType"] for e in written] == ["START", "COMPLETE"]
    assert sorted(e["eventTime"] for e in sent) == sorted(e["eventTime"] for e in written)


def test_openlineage_yml_in_the_working_folder_is_found(tmp_path, monkeypatch):
    events_file = tmp_path / "here.jsonl"
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {events_file}\n  append: true\n"
    )
    monkeypatch.chdir(tmp_path)
    run_routine(probe_routine(tmp_path, DECLARE), registry=registry())
    assert [e["eventType"] for e in read_events(events_file)] == ["START", "COMPLETE"]


def test_console_transport_logs_each_event(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "console")
    with caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"):
        run_routine(probe_routine(tmp_path, DECLARE), registry=registry())
    lines = [
        r.getMessage() for r in caplog.records if r.name == "openlineage.client.transport.console"
    ]
    assert len(lines) == 2 and '"eventType": "COMPLETE"' in lines[1]


def test_a_dead_endpoint_is_logged_once_per_run_and_the_run_goes_on(tmp_path, monkeypatch, caplog):
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "openlineage.yml"
    config.write_text(  # the client's retries (5 by default, with back-off) cut to one
        "transport:\n  type: http\n"
        f"  url: http://127.0.0.1:{port}\n"
        "  auth:\n    type: api_key\n    apiKey: ol-key-7654321\n"
        "  retry:\n    total: 1\n    connect: 1\n    backoff_factor: 0\n"
    )
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    monkeypatch.setenv("LAKEROUTINE_OPENLINEAGE_TIMEOUT_S", "60")
    spec = probe_routine(tmp_path, DECLARE, "declare", "declare")
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            assert run_routine(spec, registry=registry()).status == "succeeded"
    found = warnings_of(caplog)
    assert len(found) == 2, found  # once per run, not once per event
    assert all(w.startswith("OpenLineage: events of probe run ") for w in found)
    assert "ol-key-7654321" not in caplog.text


def test_a_stalled_endpoint_costs_one_bounded_wait(tmp_path, monkeypatch, caplog):
    """An endpoint that accepts connections and never answers: the end of the run waits at
    most LAKEROUTINE_OPENLINEAGE_TIMEOUT_S, then says once how many events were not sent."""
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(16)  # never accepted, never answered
        config = tmp_path / "openlineage.yml"
        config.write_text(
            "transport:\n  type: http\n"
            f"  url: http://127.0.0.1:{stalled.getsockname()[1]}\n"
            "  timeout: 60\n"
        )
        monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
        monkeypatch.setenv("LAKEROUTINE_OPENLINEAGE_TIMEOUT_S", "0.5")
        with caplog.at_level(logging.WARNING):
            result = run_routine(probe_routine(tmp_path, DECLARE, "declare"), registry=registry())
    assert result.status == "succeeded"
    [warning] = warnings_of(caplog)
    assert "not sent within 0.5 s (LAKEROUTINE_OPENLINEAGE_TIMEOUT_S)" in warning


def test_a_broken_client_configuration_never_fails_a_run(tmp_path, monkeypatch, caplog):
    config = tmp_path / "openlineage.yml"
    config.write_text("transport:\n  type: no-such-transport\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    with caplog.at_level(logging.WARNING):
        result = run_routine(probe_routine(tmp_path, DECLARE, "declare"), registry=registry())
    assert result.status == "succeeded"
    assert len(warnings_of(caplog)) == 1


def test_openlineage_disabled_sends_nothing(tmp_path, monkeypatch, lineage_file):
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert run_routine(probe_routine(tmp_path, DECLARE), registry=registry()).ok
    assert read_events(lineage_file) == []


def test_unconfigured_sends_nothing_and_says_nothing(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)  # no openlineage.yml here
    monkeypatch.setenv("HOME", str(tmp_path))  # nor in ~/.openlineage
    with caplog.at_level(logging.DEBUG):
        assert run_routine(probe_routine(tmp_path, DECLARE), registry=registry()).ok
    assert not [r for r in caplog.records if r.name.startswith(("openlineage", "lakeroutine.open"))]
    (tmp_path / "openlineage.yml").write_text("transport:\n  type: console\n")
    with caplog.at_level(logging.INFO):
        assert run_routine(probe_routine(tmp_path, DECLARE), registry=registry()).ok
    consoled = [r for r in caplog.records if r.name == "openlineage.client.transport.console"]
    assert len(consoled) == 2


def test_loading_plugins_does_not_import_the_client():
    code = (
        "import sys, lakeroutine\n"
        "registry = lakeroutine.load_plugins()\n"
        "assert 'openlineage' in registry.plugins, sorted(registry.plugins)\n"
        "assert not [m for m in sys.modules if m.startswith('openlineage')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
