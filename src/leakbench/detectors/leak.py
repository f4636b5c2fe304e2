"""The record a detector produces for one leaked thing.

A ``Leak`` is plain data (strings only) so that it survives pytest-xdist's report
serialisation and can be rendered by any reporter without touching live objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Leak:
    """One leaked resource, described well enough to find where it came from."""

    kind: str
    """Detector name: threads, tasks, processes, fds, patches, warnings, objects, ..."""
    summary: str
    """One line naming the leaked thing."""
    details: tuple[str, ...] = ()
    """Extra lines: where it was created, its current stack, sizes."""
    keys: tuple[str, ...] = ()
    """Names the allow-list patterns are matched against (thread name, target, path...)."""
    internal_error: bool = False
    """True when the detector itself failed; reported, never fails the test."""
    excused: str = ""
    """Non-empty when the leak is reported but does not fail the test, and why."""
    by_library: bool = False
    """Created by library code (every frame of its creation stack is the standard library
    or an installed package): the report then prints the allow pattern that matches it."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["details"] = list(self.details)
        data["keys"] = list(self.keys)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Leak:
        return cls(
            kind=str(data["kind"]),
            summary=str(data["summary"]),
            details=tuple(data.get("details", ())),
            keys=tuple(data.get("keys", ())),
            internal_error=bool(data.get("internal_error", False)),
            excused=str(data.get("excused", "")),
            by_library=bool(data.get("by_library", False)),
        )

    @property
    def counts(self) -> bool:
        """Whether this leak should fail the test."""
        return not self.internal_error and not self.excused
