"""The memory pass: N iterations of a scenario under memray, read back into byte counts.

Protocol (in a fresh process: the ``memory`` mode of ``leakbench.gate.measure.child``): enter
the scenario's session, run warm-up iterations (first calls fill caches and are 10-20%
heavier), ``gc.collect()``, then track N iterations with ``trace_python_allocators=True``
(pymalloc arenas would charge small objects to whoever opened the arena). After every tracked
iteration we run ``gc.collect()`` and call :func:`_iteration_mark`, which allocates one block
of a size nothing else uses; reading the full capture back, the live bytes at each mark give
the retained-memory series (bytes still held after k iterations, after a collection) without a
second tracker or tracemalloc. The retained bytes per iteration is a robust slope of that
series (:func:`slope`).

A capture is used only when it is complete (:class:`CaptureError` otherwise). memray does not
fail a run whose file cannot grow: on a full disk it prints "Failed to write output,
deactivating tracking" and the process exits 0, leaving a file that reads back without an
error but stops early (measured: 39 of 50 series points, ``retained_bytes`` 29,893 instead of
7,340). So the reader must read to the end without an error, find one iteration mark per
iteration run, and find the end mark (:func:`_end_mark`) written after the last collection,
which only a file that holds the whole run has.

Why the full capture format and not ``AGGREGATED_ALLOCATIONS``: aggregated files only keep
the high-water-mark and leaked snapshots, so neither the per-iteration series nor the total
bytes and count of allocations can be read from them. Reading a full file costs about 1 us per
record (measured: 1.2 M records for 10 chromadb client iterations, ~1.5 s); iteration counts
are budgeted per scenario to keep that small.
"""

from __future__ import annotations

import gc
import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memray import (
    AllocationRecord,
    AllocatorType,
    FileDestination,
    FileFormat,
    FileReader,
    Tracker,
)

from leakbench.gate.results import MemoryResult, TopSite

MARK_SIZE = 3989
"""Size of the marker block: small (it must not move the peak) and rare; its stack confirms it."""
_MARK_FUNCTION = "_iteration_mark"
_END_FUNCTION = "_end_mark"
TOP_SITES = 10

_FREES = frozenset({AllocatorType.FREE, AllocatorType.PYMALLOC_FREE, AllocatorType.MUNMAP})


def _iteration_mark() -> None:
    """Allocate and drop one ``MARK_SIZE`` block: a timestamp in the allocation stream."""
    block = bytearray(MARK_SIZE - 1)  # bytearray allocates one extra byte for the NUL
    del block


def _end_mark() -> None:
    """Like :func:`_iteration_mark`, once after the final collection: the run's last record."""
    block = bytearray(MARK_SIZE - 1)
    del block


class CaptureError(Exception):
    """A capture that cannot be read to its end or stops early (a full disk, a file another
    run truncated); ``str()`` is one line naming the file."""


@dataclass(frozen=True)
class Capture:
    """What one tracked run yields before it becomes a :class:`MemoryResult`."""

    peak_bytes: int
    total_allocated_bytes: int
    allocations: int
    retained_bytes: int
    series: list[tuple[int, int]]
    top_sites: list[TopSite]


def track(iteration: Callable[[], None], n: int, path: Path) -> None:
    """Run ``iteration`` ``n`` times under memray, marking the heap after each one.

    The caller has already warmed the scenario up and collected garbage.
    """
    destination = FileDestination(path, overwrite=True)
    with Tracker(
        destination=destination,
        trace_python_allocators=True,
        file_format=FileFormat.ALL_ALLOCATIONS,
    ):
        for _ in range(n):
            iteration()
            gc.collect()
            _iteration_mark()
        gc.collect()
        _end_mark()


def read_capture(path: Path, root: Path | None = None, iterations: int | None = None) -> Capture:
    """Read a capture written by :func:`track` into byte counts, series and top sites.

    With ``iterations`` (the N the run was asked for), raise :class:`CaptureError` unless
    the capture is complete: read to its end, N iteration marks and the end mark."""
    try:
        reader = FileReader(path)
    except (OSError, ValueError) as exc:
        raise CaptureError(f"capture {path} cannot be read ({_one_line(exc)})") from None
    try:
        live: dict[int, int] = {}
        current = total = count = 0
        series: list[tuple[int, int]] = []
        ended = False
        for record in reader.get_allocation_records():
            if record.allocator in _FREES:
                current -= live.pop(record.address, 0)
                continue
            size = record.size
            mark = _mark(record.stack_trace(max_stacks=1)) if size == MARK_SIZE else ""
            if mark:
                if mark == _MARK_FUNCTION:
                    series.append((len(series) + 1, current))
                else:
                    ended = True
                live[record.address] = 0  # its free must not count either
                continue
            live[record.address] = size
            current += size
            total += size
            count += record.n_allocations
        leaked = list(reader.get_leaked_allocation_records(merge_threads=True))
        peak = reader.metadata.peak_memory
    except (OSError, ValueError, RuntimeError) as exc:
        raise CaptureError(f"capture {path} cannot be read to its end ({_one_line(exc)})") from None
    finally:
        reader.close()
    if iterations is not None and (len(series) != iterations or not ended):
        raise CaptureError(
            f"capture {path} is incomplete ({len(series)} of {iterations} iteration marks"
            f"{'' if ended else ', no end mark'}: a full disk, or a file another run "
            "overwrote?); its numbers were not used, free space and re-run `leakbench bench`"
        )
    return Capture(
        peak_bytes=peak,
        total_allocated_bytes=total,
        allocations=count,
        retained_bytes=sum(r.size for r in leaked),
        series=series,
        top_sites=top_sites(leaked, root),
    )


def _mark(frames: list[tuple[str, str, int]]) -> str:
    """The marker function that allocated a ``MARK_SIZE`` block, or "" for any other."""
    if frames and frames[0][1] == __file__ and frames[0][0] in (_MARK_FUNCTION, _END_FUNCTION):
        return frames[0][0]
    return ""


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def top_sites(records: list[AllocationRecord], root: Path | None = None) -> list[TopSite]:
    """The ``TOP_SITES`` innermost Python frames holding the most leaked bytes."""
    by_site: dict[str, list[int]] = {}
    for record in records:
        frames = record.stack_trace(max_stacks=1)
        if frames and frames[0][1] == __file__:
            continue  # the tracker's own loop (range iterator, Tracker object): not the scenario's
        where = _location(frames[0], root) if frames else "<no Python frame>"
        entry = by_site.setdefault(where, [0, 0])
        entry[0] += record.size
        entry[1] += record.n_allocations
    ranked = sorted(by_site.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [TopSite(loc, b, c) for loc, (b, c) in ranked[:TOP_SITES]]


def _location(frame: tuple[str, str, int], root: Path | None) -> str:
    """``path:line function`` with the path shortened to survive a move to another machine."""
    function, filename, line = frame
    return f"{_short_path(filename, root)}:{line} {function}"


def _short_path(filename: str, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(filename).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    for marker in ("site-packages/", "dist-packages/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if "/lib/python" in filename:
        return "stdlib/" + filename.rsplit("/lib/python", 1)[1].split("/", 1)[-1]
    return filename


MAX_SLOPE_POINTS = 300
"""Theil-Sen looks at every pair of points; beyond this many, every k-th point is used."""


def slope(series: list[tuple[int, int]]) -> float:
    """Bytes retained per iteration: the Theil-Sen slope of the series without its first point.

    Theil-Sen (the median of the slopes between every pair of points) ignores a block that
    comes and goes between iterations (a 32 KiB buffer some library thread holds at times),
    which moved a least-squares slope by up to 1.7 KiB per iteration between fresh processes
    in the httpx closed-loop scenario; with Theil-Sen the spread fell to ~50 B. The first
    point is dropped because one-off allocations (a cache filled on first use) land there.
    """
    points = series[1:] if len(series) >= 3 else series
    if len(points) > MAX_SLOPE_POINTS:
        points = points[:: -(-len(points) // MAX_SLOPE_POINTS)]
    if len(points) < 2:
        return 0.0
    return statistics.median(
        (y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in itertools.combinations(points, 2)
    )


def measure(
    iteration: Callable[[], None],
    iterations: int,
    warmup: int,
    capture: Path,
    root: Path | None = None,
    keep_capture: bool = True,
) -> MemoryResult:
    """Warm up, track ``iterations`` iterations into ``capture`` and read them back;
    :class:`CaptureError` when the capture is incomplete."""
    for _ in range(warmup):
        iteration()
    gc.collect()
    capture.parent.mkdir(parents=True, exist_ok=True)
    track(iteration, iterations, capture)
    try:
        result = read_capture(capture, root, iterations)
    finally:
        if not keep_capture:
            capture.unlink(missing_ok=True)
    return MemoryResult(
        iterations=iterations,
        warmup_iterations=warmup,
        peak_bytes=result.peak_bytes,
        total_allocated_bytes=result.total_allocated_bytes,
        allocations=result.allocations,
        retained_bytes=result.retained_bytes,
        retained_per_iteration=round(slope(result.series), 3),
        series=result.series,
        top_sites=result.top_sites,
        capture=str(capture) if keep_capture else None,
    )
