"""Staging on S3 (moto's server) tells its lineage with lakeroutine-openlineage installed:
prefix-level datasets named ``s3://BUCKET`` / ``key/prefix`` (``s3a://`` gives the same name),
one dataset per location whatever the number of files, with file and byte counts."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "openlineage" / "tests"))
from lr_openlineage_helpers import file_transport, staging_lineage

FILES = {f"dt=2026-11-0{i % 3 + 1}/sales_{i}.csv": f"a,b\n{i},x{i}\n" for i in range(9)}


def test_staging_on_s3_emits_prefix_level_datasets(bucket, routine, run, tmp_path, monkeypatch):
    events_file = file_transport(tmp_path, monkeypatch)
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "s3,openlineage")
    for rel, body in FILES.items():
        bucket.put("landing/sales/" + rel, body)
    result = run(
        routine(
            parent_directory="s3a://lake/landing/sales/",
            dump_directory="s3://lake/staging/sales",
            archive_or_delete="archive",
        )
    )
    assert result.status == "succeeded", result.tasks
    _, post = staging_lineage(events_file, "s3://lake", "landing/sales", "staging/sales", FILES)
    [read], [archive] = post["inputs"], post["outputs"]
    assert (read["namespace"], read["name"]) == ("s3://lake", "landing/sales")
    assert archive["namespace"] == "s3://lake" and archive["name"].startswith("landing/sales")
    assert archive["outputFacets"]["outputStatistics"]["fileCount"] == len(FILES)
