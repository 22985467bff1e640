"""The s3:// state store against moto's server: conditional writes honoured, values and
record logs shared between processes, batching and compaction, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lakeroutine.state.base import StateError
from lakeroutine.state.lock import Conflict


def _store(url: str = "s3://lake/state/", routine: str = "r") -> Any:
    from lakeroutine_s3.state import open_s3_state

    return open_s3_state(url, routine=routine)


def test_the_emulator_honours_conditional_writes(bucket: Any) -> None:
    """The store's safety rests on IfNoneMatch / IfMatch: a second create and a replace of
    a stale version must both be refused (if moto ignored them, this test would say so)."""
    objects = _store().objects
    first = objects.put_new("state/r/x.json", {"n": 1})
    with pytest.raises(Conflict):
        objects.put_new("state/r/x.json", {"n": 2})
    second = objects.replace("state/r/x.json", {"n": 3}, first)
    with pytest.raises(Conflict):
        objects.replace("state/r/x.json", {"n": 4}, first)
    with pytest.raises(Conflict):
        objects.delete_if("state/r/x.json", first)
    assert objects.get("state/r/x.json") == ({"n": 3}, second)
    objects.delete_if("state/r/x.json", second)
    assert objects.get("state/r/x.json") == (None, None)


def test_values_are_seen_by_another_store_and_races_are_resolved(bucket: Any) -> None:
    one, two = _store(), _store()
    one.set_value("A.run:1", "query_id", "q-1")
    assert two.get_values("A.run:1") == {"query_id": "q-1"}
    two.set_value("A.run:1", "token", "t")  # one's cached version is stale now
    one.set_value("A.run:1", "other", 2)  # IfMatch fails, re-read, applied on top
    assert _store().get_values("A.run:1") == {"query_id": "q-1", "token": "t", "other": 2}
    one.delete_value("A.run:1", "token")
    assert _store().get_values("A.run:1") == {"query_id": "q-1", "other": 2}
    assert _store().value_scopes() == ["A.run:1"]
    two.clear_values("A.run:1")  # two's version is stale: re-read, then deleted
    assert _store().get_values("A.run:1") == {}
    assert bucket.keys("state/r/values/") == []


def test_records_are_written_in_batches_and_compacted(bucket: Any) -> None:
    from lakeroutine_s3.state_log import COMPACT_AFTER

    store = _store()
    table = store.records("staging", "block")
    for n in range(2500):
        table.put(f"f{n:05d}", {"status": "staged", "n": n})
    assert len(bucket.keys("state/r/records/")) == 2  # two segments of 1,000; 500 buffered
    store.checkpoint()
    segments = bucket.keys("state/r/records/")
    assert len(segments) == 3
    assert all(
        len(json.loads(body)["changes"]) >= 500
        for body in bucket.objects("state/r/records/").values()
    )

    other = _store().records("staging", "block")
    assert other.count() == 2500
    assert other.get("f00042") == {"status": "staged", "n": 42}
    assert other.count_by("status") == {"staged": 2500}

    table.delete([f"f{n:05d}" for n in range(1000)])  # one segment of deletions
    table.put("f01000", {"status": "archiving", "n": 1000}, durable=True)
    for _ in range(COMPACT_AFTER):
        table.put("x", {"status": "staged"}, durable=True)
    keys = bucket.keys("state/r/records/")
    assert sum("snapshot-" in k for k in keys) == 1
    assert sum("segment-" in k for k in keys) < COMPACT_AFTER  # old segments deleted
    table.update(["f01001", "missing"], {"status": "claiming"}, durable=True)
    fresh = _store().records("staging", "block")
    assert fresh.get("f01001") == {"status": "claiming", "n": 1001}
    assert fresh.get("missing") is None
    assert fresh.count() == 1501
    assert fresh.get("f00001") is None
    assert fresh.get("f01000") == {"status": "archiving", "n": 1000}
    assert [k for k, _ in fresh.scan()][:2] == ["f01000", "f01001"]
    assert _store().record_scopes() == [("staging", "block")]

    fresh.delete([k for k, _ in fresh.scan()])
    _store_checkpoint = fresh  # an emptied table compacts to one object at the checkpoint
    _store_checkpoint.checkpoint()
    assert len(bucket.keys("state/r/records/")) == 1
    assert _store().records("staging", "block").count() == 0


def test_a_second_writer_of_a_log_is_refused(bucket: Any) -> None:
    """Two processes appending to one journal (two runs without the lock) cannot both win:
    the later segment of a number is refused, never overwrites."""
    one = _store().records("staging", "block")
    two = _store().records("staging", "block")
    one.count(), two.count()  # both have read the (empty) log
    one.put("a", {"status": "staged"}, durable=True)
    with pytest.raises(StateError, match="written by another process"):
        two.put("b", {"status": "staged"}, durable=True)


def test_corrupt_state_objects_are_one_line_errors(bucket: Any) -> None:
    bucket.put("state/r/values/x.json", "{not json")
    with pytest.raises(StateError) as info:
        _store().value_scopes()
    message = str(info.value)
    assert "s3://lake/state/r/values/x.json" in message and "state clear" in message
    assert "\n" not in message
    store = _store()
    assert "s3://lake/state/r/values/x.json" in store.forget()
    assert bucket.keys("state/r/") == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3:///prefix/", "names no bucket"),
        ("s3://lake/state/?lease_s=0", "between 1 and 3600"),
        ("s3://lake/state/?lease_s=soon", "not a number"),
        ("s3://lake/state/?colour=red", "colour"),
    ],
)
def test_bad_state_urls_are_refused(url: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        _store(url)


def test_a_table_is_written_only_after_the_table_it_relies_on(bucket: Any) -> None:
    """The staging journal relies on its output claims: when the journal writes a segment,
    the claims made before are written first (a kept entry always has its claims)."""
    store = _store()
    claims = store.records("staging_outputs", "loc")
    journal = store.records("staging", "block", after=claims)
    assert claims.add("out/a.csv", {"source": "a.csv"}) is None
    assert claims.add("out/a.csv", {"source": "b.csv"}) == {"source": "a.csv"}
    assert bucket.keys("state/r/records/") == []  # buffered
    journal.put("a.csv", {"status": "staged"}, durable=True)
    fresh = _store()
    assert fresh.records("staging_outputs", "loc").get("out/a.csv") == {"source": "a.csv"}
    assert fresh.records("staging", "block").get("a.csv") == {"status": "staged"}


def test_a_holder_that_cannot_renew_its_lease_is_told_to_stop(bucket: Any, proxy) -> None:
    """Renewals refused (S3 unreachable) until the lease ends: the holder learns it lost the
    lock (the run is cancelled); another process takes over, and the first one's release
    leaves the new holder's lease alone."""
    import threading

    from lakeroutine.state.lock import this_process

    blocked = threading.Event()
    failing = proxy(
        fault_rate=1.0,
        faults=("internal",),
        only=lambda op: blocked.is_set() and op == "PutObject",
    )
    url = f"s3://lake/state/?lease_s=1&endpoint_url={failing.url}&max_attempts=1"
    lock = _store(url).run_lock()
    lost = threading.Event()
    lock.acquire(this_process("first"), on_lost=lost.set)
    blocked.set()
    assert lost.wait(10) and lock.lost()

    taker = _store().run_lock()
    taker.acquire(this_process("second"), wait_s=10)
    blocked.clear()
    lock.release()
    holder = _store().run_lock().holder()
    assert holder is not None and holder.run_id == "second"
    taker.release()
    assert _store().run_lock().holder() is None


def test_a_failed_final_state_save_fails_the_run(bucket: Any, proxy, run) -> None:
    """The run's last state write is refused by S3 (after its task succeeded): the run is
    failed, not succeeded (the CLI exits 1), and the error names the state object."""
    import threading

    from lakeroutine import hookimpl
    from lakeroutine.executor import Executor, task
    from lakeroutine.executor import Params as NoParams

    blocked = threading.Event()
    failing = proxy(
        fault_rate=1.0,
        faults=("internal",),
        only=lambda op: blocked.is_set() and op == "PutObject",
    )

    class BreakState(Executor):
        """Its one task makes S3 refuse every later PutObject (of the state too)."""

        name = "BreakState"
        Params = NoParams

        @task
        def block(self) -> dict[str, Any]:
            blocked.set()
            return {}

    class Plugin:
        @hookimpl
        def register_executors(self, register: Any) -> None:
            register(BreakState)

    routine = {
        "routine_name": "final_save",
        "state": f"s3://lake/state/?endpoint_url={failing.url}&max_attempts=1",
        "executors": {"BreakState": {"params": {}, "tasks": ["block"]}},
    }
    result = run(routine, plugins=[Plugin()])

    assert [t.status for t in result.tasks] == ["succeeded"]
    assert result.status == "failed"
    blocked.clear()
    assert _store(routine="final_save").run_lock().holder() is None  # released all the same
