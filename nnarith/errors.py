"""External tools (simulators, Yosys, nextpnr): the one exception for a failed
run, shared by :mod:`nnarith.hw` and :mod:`nnarith.sim`, and the guard that
no tool outlives an interrupt."""

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ToolError", "log_reason", "children_stopped_on_interrupt", "tools_stopped_after",
           "descendants", "terminate"]


class ToolError(RuntimeError):
    """``tool`` (a simulator's build, Yosys, nextpnr) exited with ``returncode``
    (None when unknown); the whole story is in ``log_path``. ``reason``: the
    log's own one-line account, when it has one. ``str()`` is one line."""

    def __init__(self, tool, returncode, log_path, reason=None):
        self.tool, self.returncode, self.log_path = tool, returncode, Path(log_path)
        self.reason = reason
        status = "failed" if returncode is None else f"failed (exit {returncode})"
        super().__init__(f"{tool} {status}{f': {reason}' if reason else ''}; log: {self.log_path}")


def log_reason(path):
    """A tool log's own account of its failure in one line: its last ``ERROR``
    line, with the first warning of the same pass (Yosys's ``check -assert``
    warns what it then fails on); else the last line; None without a log."""
    try:
        lines = [line.strip() for line in Path(path).read_text(errors="replace").splitlines()]
    except FileNotFoundError:
        return None
    lines = [line for line in lines if line]
    errors = [i for i, line in enumerate(lines) if line.startswith("ERROR")]
    if not errors:
        return lines[-1] if lines else None
    last = errors[-1]
    pass_start = max((i for i in range(last) if "Executing" in lines[i]), default=0)
    warning = next((line for line in lines[pass_start:last] if line.startswith("Warning:")), None)
    reason = lines[last].removeprefix("ERROR:").strip()
    if warning:
        reason += f" ({warning.removeprefix('Warning:').strip().rstrip(':')})"
    return reason


@contextmanager
def tools_stopped_after(seconds, folder):
    """Inside, once ``seconds`` have passed (None: never), kill every process
    below this one that runs in ``folder``, and each that starts there later;
    yields an :class:`threading.Event` set from then on.

    The folder, not the thread, names a run's tools: a Dask worker with
    several threads runs several tasks, each in a folder of its own. The
    tool's caller sees its usual failure (exit -9) and returns."""
    expired, done = threading.Event(), threading.Event()
    folder = str(Path(folder).resolve())

    def watch():
        if done.wait(seconds):
            return
        expired.set()
        while True:
            for pid in descendants(os.getpid()):
                try:
                    if os.readlink(f"/proc/{pid}/cwd") == folder:
                        os.kill(pid, signal.SIGKILL)
                except OSError:     # gone meanwhile
                    pass
            if done.wait(0.5):
                return

    if seconds is None:
        yield expired
        return
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield expired
    finally:
        done.set()
        watcher.join()


def descendants(pid):
    """Every living process below ``pid`` (from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: the ppid follows the last ')'.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def terminate(pids):
    """SIGTERM to each of ``pids`` that still runs."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


@contextmanager
def children_stopped_on_interrupt():
    """Inside, an interrupt first terminates every process started inside
    (and their children), then raises :class:`KeyboardInterrupt`.

    On SIGINT the processes are stopped before Python unwinds: by then
    ``subprocess.run`` would have killed only its direct child, and that
    child's own (``ivl`` under ``iverilog``, compilers under ``make``) would
    have been re-parented out of reach.
    """
    me = os.getpid()
    before = set(descendants(me))

    def stop():
        terminate(pid for pid in descendants(me) if pid not in before)

    def on_interrupt(signum, frame):
        stop()
        raise KeyboardInterrupt

    # Signal handlers belong to the main thread; elsewhere the caller's guard covers.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        yield
    except KeyboardInterrupt:
        stop()
        raise
    finally:
        if in_main:     # None: the previous handler was not set from Python
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
