"""Progress of long work on stderr: a live bar on a terminal, plain lines otherwise.

Every library call that can run for more than a few seconds (simulation,
GEMM simulation, synthesis, the synthesis report, the exhaustive and formal
runs) reports through one :class:`Progress`: a count done of a total, and an
ETA or the elapsed time. On a terminal it is a tqdm bar; in a log (CI, a
pipe) a plain line at every new step, every ``PLAIN_INTERVAL`` seconds and at
the end::

    sim fp16_mul: 12,000/40,000 vectors, 30 %, simulating, ETA 0:42

Work done in another process (a cocotb run, an exhaustive shard) reports its
count through a small file (:class:`CountFile`) that :meth:`Progress.follow`
polls. Every function that shows progress takes ``progress=False`` to stay
silent.
"""

import os
import sys
import threading
import time
from pathlib import Path

from tqdm import tqdm

__all__ = ["Progress", "CountFile", "duration"]

#: Seconds between plain lines in a log.
PLAIN_INTERVAL = 10.0
#: Seconds between refreshes of a terminal bar and polls of a followed count.
TICK = 0.5


def duration(seconds):
    """``42`` -> ``0:42``, ``3723`` -> ``1:02:03``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """``done`` of ``total`` ``unit`` under ``label``; a context manager.

    ``eta``: estimate the time left from the rate since counting began (for
    counts of like items); without it, show the elapsed time (for steps of
    very different lengths). ``enabled=False``: say nothing.
    """

    def __init__(self, label, total, unit, *, enabled=True, eta=True, stream=None):
        self.label, self.total, self.unit, self.eta = label, total, unit, eta
        self.done = 0
        self.what = None
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._lock = threading.Lock()
        self._start = self._last_line = time.monotonic()
        self._origin = (self._start, 0)
        self._poll = None
        self._bar = None
        self._stop = threading.Event()
        self._ticker = None
        if not enabled:
            return
        if self._stream.isatty():
            # leave=None: an outer bar stays on screen at the end, nested ones vanish.
            # tqdm puts ", " before the postfix: our status, without the count.
            self._bar = tqdm(total=total, desc=label, unit=unit, file=self._stream, leave=None,
                             dynamic_ncols=True, bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                             "{n_fmt}/{total_fmt} {unit}{postfix}")
        # A step may run for minutes without a count changing: the ticker
        # keeps the bar's clock moving and the plain lines coming.
        self._ticker = threading.Thread(target=self._tick, name=f"progress {label}", daemon=True)
        self._ticker.start()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        # Bad input (a ValueError, found before any hardware is built) is
        # reported in one line by the caller: no closing line beside it.
        self.close(failed=kind is not None,
                   quiet=kind is not None and issubclass(kind, ValueError))

    def step(self, what):
        """Say what is being done now (e.g. ``"yosys ecp5"``). Before the
        first count, a step also restarts the ETA's clock: the count's rate
        is that of the work counted, not of a build before it."""
        with self._lock:
            self.what = what
            if self.done == 0:
                self._origin = (time.monotonic(), 0)
        self._show(force=True)

    def advance(self, count=1):
        self.update_to(self.done + count)

    def update_to(self, done):
        with self._lock:
            self.done = min(done, self.total)
            if self._bar is not None:
                self._bar.n = self.done
        self._show()

    def follow(self, read):
        """Poll ``read()`` (a count, or None while there is none) from now on."""
        self._poll = read

    def close(self, failed=False, quiet=False):
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._poll is not None:
            self._update_from_poll()
            self._poll = None
        if not self._enabled:
            return
        with self._lock:
            if self._bar is not None:
                if not quiet:
                    self._bar.set_postfix_str(self._status(closing=True, with_count=False),
                                             refresh=False)
                self._bar.close()
                self._bar = None
            elif not quiet:
                self._print(self._line(closing=True, failed=failed))
        self._enabled = False

    def _tick(self):
        while not self._stop.wait(TICK):
            if self._poll is not None:
                self._update_from_poll()
            self._show()

    def _update_from_poll(self):
        done = self._poll()
        if done is not None and done != self.done:
            self.update_to(done)

    def _show(self, force=False):
        if not self._enabled:
            return
        with self._lock:
            if self._bar is not None:
                self._bar.set_postfix_str(self._status(with_count=False), refresh=True)
            elif force or time.monotonic() - self._last_line >= PLAIN_INTERVAL:
                self._print(self._line())

    def _print(self, line):
        self._last_line = time.monotonic()
        print(line, file=self._stream, flush=True)

    def _eta(self):
        since, done_then = self._origin
        now = time.monotonic()
        if self.done <= done_then or now <= since:
            return None
        rate = (self.done - done_then) / (now - since)
        return (self.total - self.done) / rate

    def _status(self, *, with_count=True, percent=False, closing=False, failed=False):
        """``12,000/40,000 vectors[, 30 %], simulating, ETA 0:42`` (or the elapsed time)."""
        elapsed = duration(time.monotonic() - self._start)
        parts = [f"{self.done:,}/{self.total:,} {self.unit}"] if with_count else []
        if closing:
            return ", ".join(parts + [f"{'stopped after' if failed else 'done in'} {elapsed}"])
        if percent and self.eta and self.total:
            parts.append(f"{100 * self.done // self.total} %")
        parts += [self.what] if self.what else []
        eta = self._eta() if self.eta and self.done < self.total else None
        parts.append(f"ETA {duration(eta)}" if eta is not None else f"{elapsed} elapsed")
        return ", ".join(parts)

    def _line(self, closing=False, failed=False):
        return f"{self.label}: {self._status(percent=True, closing=closing, failed=failed)}"


class CountFile:
    """A count shared between processes through a small file: the worker
    :meth:`write`\\ s it (at most every ``every`` seconds unless told
    ``final``), the parent :meth:`read`\\ s it (None before the first write)."""

    def __init__(self, path, every=TICK):
        self.path = Path(path)
        self.every = every
        self._written = 0.0

    def write(self, done, final=False):
        now = time.monotonic()
        if not final and now - self._written < self.every:
            return
        self._written = now
        # Replaced whole, so that a reader never sees half a number.
        scratch = self.path.with_name(self.path.name + ".tmp")
        scratch.write_text(str(done))
        os.replace(scratch, self.path)

    def read(self):
        try:
            return int(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def clear(self):
        self.path.unlink(missing_ok=True)
