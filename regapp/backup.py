"""Backups of a live database, for ``flask backup``.

SQLite: the online backup API copies every page under one read transaction, so the copy is the
database as it was at one instant, while the app goes on writing (in WAL mode readers never
block writers). PostgreSQL: ``pg_dump`` does the same with a snapshot; its custom format is
restored with ``pg_restore``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL


class BackupError(Exception):
    pass


def backup_sqlite(source: Path, dest: Path) -> None:
    """Copy the SQLite database ``source`` into the new file ``dest`` and check the copy.

    The copy is written under a temporary name and renamed only once it passes
    ``PRAGMA integrity_check``, so a file with the final name is always a whole backup."""
    if not source.is_file():
        raise BackupError(f"There is no database at {source}.")
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose another name.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as live,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            live.backup(copy)  # all pages in one step: one consistent snapshot
            # A single self-contained file (no -wal beside it) to move around and restore.
            copy.execute("PRAGMA journal_mode=DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchall()
        if verdict != [("ok",)]:
            raise BackupError(f"The copy failed its integrity check: {verdict[:5]}")
        partial.rename(dest)
    finally:
        partial.unlink(missing_ok=True)


def libpq_environment(url: URL) -> dict[str, str]:
    """``url``'s connection as libpq's environment variables, for pg_dump and pg_restore
    (so that no password shows in a process list)."""
    settings = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
        "PGSSLMODE": url.query.get("sslmode"),
    }
    return {name: value for name, value in settings.items() if value}


def shown(command: list[str], environment: dict[str, str]) -> str:
    """The command as one would type it, the password left out."""
    public = {name: value for name, value in environment.items() if name != "PGPASSWORD"}
    words = [f"{name}={shlex.quote(value)}" for name, value in public.items()]
    return " ".join(words + [shlex.quote(part) for part in command])


def backup_postgresql(url: URL, dest: Path) -> None:
    """Run ``pg_dump`` into ``dest``; :class:`BackupError` when it is missing or fails."""
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose another name.")
    command = ["pg_dump", "--format=custom", f"--file={dest}"]
    environment = libpq_environment(url)
    if shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump is not installed here. Install PostgreSQL's client programs (the same "
            "major version as the server), or run this where they are:\n  "
            + shown(command, environment)
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        command, env={**os.environ, **environment}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        dest.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
