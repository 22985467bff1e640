"""Exceptions lakeroutine raises, each able to say where the fault is in a routine file."""

from __future__ import annotations

from collections.abc import Iterable


class LakeroutineError(Exception):
    """Base class of every error lakeroutine raises on purpose."""


class PluginError(LakeroutineError):
    """A plugin failed to load, or registered something invalid or already taken."""


class RoutineError(LakeroutineError):
    """The routine is invalid: nothing has run. Names the file, executor, task and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        executor: str | None = None,
        task: str | None = None,
        field: str | None = None,
        problems: list[RoutineError] | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.executor = executor
        self.task = task
        self.field = field
        self.problems = problems or []
        super().__init__(str(self))

    def where(self, with_file: bool = True) -> str:
        parts = []
        if self.file and with_file:
            parts.append(self.file)
        if self.executor:
            parts.append(f"executor {self.executor!r}")
        if self.task:
            parts.append(f"task {self.task!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return self._render(with_file=True)

    def _render(self, with_file: bool) -> str:
        from lakeroutine.redact import mask

        where = self.where(with_file)
        head = mask(f"{where}: {self.message}" if where else self.message)
        # Sub-problems share the file named in the first line.
        return head + "".join(f"\n  - {p._render(with_file=False)}" for p in self.problems)

    def located(self, **where: str | None) -> RoutineError:
        """Fill in the parts of the location this error does not know yet."""
        for key, value in where.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for problem in self.problems:
            problem.located(**where)
        self.args = (str(self),)
        return self


class TaskRefused(RoutineError):
    """A task found, before changing anything, that its args cannot apply to what exists
    (a table's schema): the run fails as an invalid routine does (exit 2, no retry)."""


class TaskError(LakeroutineError):
    """A task failed while running. Executors raise it with a message for the user."""


class TaskTimeout(TaskError):
    """A task ran past its ``timeout_s``."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint naming the closest choice, or ''."""
    import difflib  # only when a name is wrong: a valid routine's parse never needs it

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
