"""The progress display of the long-running commands (``bench``, ``workers``), on stderr.

Both run for minutes, step by step (a pass of a scenario, a pytest run at one level). On a
terminal a rich bar shows how far along the run is and the step now running; where stderr
is not a terminal (CI logs) a redrawn bar would be noise, so each step prints one plain
``[k/N] step`` line instead. stdout stays free for the command's result.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Steps"]


class Steps:
    """``total`` steps under ``title``; use as a context manager around the run.

    :meth:`begin` names the step that starts, :meth:`advance` counts one as done (also a
    step that is skipped without being begun), :meth:`next` does both for callers that only
    learn a step ended when the next one starts, :meth:`finish` fills the bar.
    """

    def __init__(self, title: str, total: int) -> None:
        self.total = total
        self.console = Console(stderr=True)
        self._bar = Progress(
            TextColumn(f"[bold]{title}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=self.console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._open = False

    def __enter__(self) -> Steps:
        self._bar.__enter__()
        self._task = self._bar.add_task("", total=self.total)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.__exit__(kind, error, trace)

    @property
    def completed(self) -> int:
        """Steps counted as done so far."""
        return int(self._bar.tasks[0].completed)

    def _id(self) -> TaskID:
        assert self._task is not None, "Steps used outside its with-block"
        return self._task

    def begin(self, line: str) -> None:
        """Show ``line`` as the running step (a plain ``[k/N] line`` when not a terminal)."""
        self._bar.update(self._id(), description=line)
        self._open = True
        if not self.console.is_terminal:
            self.console.print(f"[{self.completed + 1}/{self.total}] {line}", markup=False)

    def advance(self) -> None:
        """One more step done."""
        self._bar.advance(self._id())
        self._open = False

    def next(self, line: str) -> None:
        """The running step (if any) is done and ``line`` starts."""
        if self._open:
            self.advance()
        self.begin(line)

    def finish(self) -> None:
        """Every step done: the bar full, ``done`` as its description."""
        self._bar.update(self._id(), completed=self.total, description="done")
        self._open = False
