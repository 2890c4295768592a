"""Where Headroom keeps its state: one directory, HEADROOM_HOME, readable by the user only."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def headroom_home() -> Path:
    """HEADROOM_HOME, or the per-user data directory (e.g. ~/.local/share/headroom)."""
    env = os.environ.get("HEADROOM_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("headroom", appauthor=False))


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it accessible to the owner only."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):  # parents we create are private too
        directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def confdir(home: Path | None = None) -> Path:
    """mitmproxy's confdir, where the local CA lives."""
    return (home or headroom_home()) / "certs"


def store_dir(home: Path | None = None) -> Path:
    """The diskcache store (decision memo now; originals with retrieval)."""
    return (home or headroom_home()) / "store"


def log_dir(home: Path | None = None) -> Path:
    return (home or headroom_home()) / "logs"
