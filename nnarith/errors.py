"""The one exception for a failed external tool, shared by :mod:`nnarith.hw` and :mod:`nnarith.sim`."""

from pathlib import Path

__all__ = ["ToolError"]


class ToolError(RuntimeError):
    """``tool`` (a simulator's build, Yosys, nextpnr) exited with ``returncode``
    (None when unknown); the whole story is in ``log_path``. ``reason``: the
    log's own one-line account, when it has one. ``str()`` is one line."""

    def __init__(self, tool, returncode, log_path, reason=None):
        self.tool, self.returncode, self.log_path = tool, returncode, Path(log_path)
        self.reason = reason
        status = "failed" if returncode is None else f"failed (exit {returncode})"
        super().__init__(f"{tool} {status}{f': {reason}' if reason else ''}; log: {self.log_path}")
