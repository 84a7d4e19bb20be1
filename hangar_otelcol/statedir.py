"""Where the gateway keeps state across restarts (checkpoints, persistent queues, ledger).

``$HANGAR_OTELCOL_STATE_DIR``, else ``$XDG_STATE_HOME/hangar-otelcol``, else
``~/.local/state/hangar-otelcol``.
"""

from __future__ import annotations

import os

STATE_DIR_ENV = "HANGAR_OTELCOL_STATE_DIR"


def state_dir() -> str:
    base = os.environ.get(STATE_DIR_ENV)
    if base:
        return base
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                          "state")
    return os.path.join(xdg, "hangar-otelcol")


def safe_name(text: str) -> str:
    """A component id as a file name part (``file_storage/a b`` -> ``file_storage_a_b``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
