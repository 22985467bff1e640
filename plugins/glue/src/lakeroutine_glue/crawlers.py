"""Glue crawlers: create or (explicitly) update one; start a crawl, or join the one already
running, and wait for it.

Crawls have no id of their own: the task saves the start time of the crawler's previous
crawl before starting, and a crawl counts as this task's once the crawler reports a newer
one (or is seen running). A rerun after a kill re-attaches the same way.
"""

from __future__ import annotations

import time
from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError
from lakeroutine.waiting import poll

from lakeroutine_glue.definitions import create_or_update
from lakeroutine_glue.models import CreateOrUpdateCrawlerArgs, GlueParams, StartCrawlerArgs

_SUCCESS = frozenset({"SUCCEEDED", "COMPLETED"})  # AWS says SUCCEEDED; moto COMPLETED
_BUSY = frozenset({"RUNNING", "STOPPING"})
CRAWL_FAILURES = frozenset({"FAILED", "CANCELLED", "STOPPED", "ERROR", "TIMEOUT"})


def crawler_definition(args: CreateOrUpdateCrawlerArgs, database: str) -> dict[str, Any]:
    """The fields of ``CreateCrawler`` / ``UpdateCrawler`` for ``args``, without the name."""
    definition: dict[str, Any] = {
        "Role": args.role,
        "DatabaseName": database,
        "Targets": {
            "S3Targets": [
                {"Path": path, "Exclusions": list(args.exclusions)} for path in args.targets
            ]
        },
    }
    optional = {
        "TablePrefix": args.table_prefix,
        "Schedule": args.schedule,
        "Description": args.description,
    }
    definition.update({k: v for k, v in optional.items() if v is not None})
    return definition


def _s3_targets(targets: dict[str, Any] | None) -> list[tuple[str, list[str]]]:
    return [
        (t.get("Path", ""), list(t.get("Exclusions") or []))
        for t in (targets or {}).get("S3Targets", [])
    ]


def _differences(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Fields of ``wanted`` the existing crawler does not have (omitted ones are kept)."""
    changed = []
    for key, value in wanted.items():
        current = existing.get(key)
        if key == "Schedule":
            current = (current or {}).get("ScheduleExpression")
        if key == "Targets":
            current, value = _s3_targets(current), _s3_targets(value)
        if current != value:
            changed.append(key)
    return changed


def create_or_update_crawler(
    client: Any, args: CreateOrUpdateCrawlerArgs, database: str, ctx: TaskContext
) -> dict[str, Any]:
    """Create the crawler, or skip, update or refuse an existing one (``args.if_exists``)."""
    wanted = crawler_definition(args, database)
    return create_or_update(
        kind="Glue crawler",
        name=args.name,
        if_exists=args.if_exists,
        get=lambda: client.get_crawler(Name=args.name)["Crawler"],
        create=lambda: client.create_crawler(Name=args.name, **wanted),
        update=lambda: client.update_crawler(Name=args.name, **wanted),
        differences=lambda existing: _differences(existing, wanted),
        ctx=ctx,
    )


def _start_time(crawler: dict[str, Any]) -> str | None:
    last = crawler.get("LastCrawl") or {}
    start = last.get("StartTime")
    return start.isoformat() if hasattr(start, "isoformat") else (str(start) if start else None)


class CrawlRunner:
    """Starts a crawl (or joins the running one) and waits for it to end."""

    def __init__(
        self, client: Any, params: GlueParams, args: StartCrawlerArgs, ctx: TaskContext
    ) -> None:
        self.client = client
        self.params = params
        self.args = args
        self.ctx = ctx
        self.seen_running = False

    def _get(self) -> dict[str, Any]:
        try:
            return dict(self.client.get_crawler(Name=self.args.name)["Crawler"])
        except Exception as exc:
            if error_code(exc) == "EntityNotFoundException":
                raise TaskError(f"Glue crawler {self.args.name!r} does not exist") from None
            raise

    def run(self) -> dict[str, Any]:
        """Start a crawl, join the running one or re-attach; wait unless told not to."""
        started = time.monotonic()
        state = self.ctx.state
        crawler = self._get()
        busy = crawler.get("State") in _BUSY
        if not state.get("started"):
            state.set("previous", _start_time(crawler))
            state.set("joined", busy)
            state.set("started", True)  # saved before the call: a kill after it re-attaches
            joined = busy or not self._start()
        elif not busy and _start_time(crawler) == state.get("previous"):
            joined = not self._start()  # the earlier start never reached Glue
        elif not busy and (last := crawler.get("LastCrawl") or {}).get("Status") in CRAWL_FAILURES:
            self.ctx.logger.warning(
                "the crawl of %s ended %s while no one waited (%s); starting a new crawl",
                self.args.name,
                last.get("Status"),
                last.get("ErrorMessage") or "no message from Glue",
            )
            state.set("previous", _start_time(crawler))
            joined = not self._start()
        else:
            self.ctx.logger.info("re-attaching to the crawl of %s", self.args.name)
            joined = bool(state.get("joined"))
        state.set("joined", joined)
        if not joined:
            self.ctx.on_cancel(self._stop)  # only a crawl this task started is stopped
            if self.ctx.cancelled:  # cancelled while the start was in flight
                self._stop()
                self.ctx.check_cancelled()
        self.seen_running = joined
        if not self.args.wait:
            return self._report(self._get(), joined, time.monotonic() - started)
        final = poll(
            self.ctx,
            self._look,
            what=f"Glue crawler {self.args.name!r}",
            interval_s=self.params.poll_interval_s,
            max_wait_s=self.params.max_wait_s,
            give_up=None if joined else self._stop,  # someone else's crawl is theirs
        )
        last = final.get("LastCrawl") or {}
        status = last.get("Status")
        if status in CRAWL_FAILURES:
            state.clear()
            reason = last.get("ErrorMessage") or "no message from Glue"
            raise TaskError(
                f"Glue crawler {self.args.name!r} crawl {status}: {reason} "
                f"(logs: {last.get('LogGroup')}, stream {last.get('LogStream')})"
            )
        return self._report(final, joined, time.monotonic() - started)

    def _start(self) -> bool:
        """Start a crawl; False if one was already running (then it is joined)."""
        try:
            self.client.start_crawler(Name=self.args.name)
        except Exception as exc:
            code = error_code(exc)
            if code == "CrawlerRunningException":
                self.ctx.logger.info("crawler %s is already running: joining it", self.args.name)
                return False
            if code == "EntityNotFoundException":
                raise TaskError(f"Glue crawler {self.args.name!r} does not exist") from None
            raise
        self.ctx.logger.info("started crawler %s", self.args.name)
        return True

    def _look(self) -> dict[str, Any] | None:
        crawler = self._get()
        if crawler.get("State") in _BUSY:
            self.seen_running = True
            return None
        newer = _start_time(crawler) != self.ctx.state.get("previous")
        if not (self.seen_running or newer):
            return None  # the crawl this task started is not visible yet
        status = (crawler.get("LastCrawl") or {}).get("Status")
        if status in _SUCCESS or status in CRAWL_FAILURES:
            return crawler
        return None

    def _stop(self) -> bool:
        """Stop this task's crawl (Ctrl-C, timeout, max_wait_s); a later rerun starts afresh.
        A crawl that had just ended is kept (False): a rerun re-attaches and sees how it ended."""
        try:
            self.client.stop_crawler(Name=self.args.name)
        except Exception as exc:
            if error_code(exc) != "CrawlerNotRunningException":
                raise
            self.ctx.logger.warning("crawler %s was no longer running", self.args.name)
            return False
        self.ctx.logger.warning("stopped crawler %s", self.args.name)
        self.ctx.state.clear()
        return True

    def _report(self, crawler: dict[str, Any], joined: bool, waited_s: float) -> dict[str, Any]:
        last = crawler.get("LastCrawl") or {}
        status = last.get("Status")
        return {
            "crawler": self.args.name,
            "state": crawler.get("State"),
            "last_crawl_status": "SUCCEEDED" if status in _SUCCESS else status,
            "joined_running_crawl": joined,
            "duration_s": round(waited_s, 3),
            "log_group": last.get("LogGroup"),
            "log_stream": last.get("LogStream"),
        }
