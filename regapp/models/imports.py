"""A participant import: a checked CSV file, then its import in batches.

The job lives in the database, not in a process, so that the batches can run in any server
process (several gunicorn workers), a reloaded page finds the import where it was, and the
command line and the browser share one way of working.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .events import Event
from .staff import StaffUser
from .types import UTCDateTime, utcnow


class ImportStatus(enum.StrEnum):
    PREVIEW = "preview"  #: checked, nothing imported yet
    RUNNING = "running"  #: batches are being imported
    DONE = "done"


class ImportJob(db.Model):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    #: Who runs it, as the audit log shows it ("command line" for ``flask import-participants``).
    actor: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.PREVIEW)
    send_confirmations: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The good rows of the file, checked and resolved (country code, session ids), each with
    #: its line number. Personal data: emptied when the import is done.
    rows: Mapped[list] = mapped_column(JSON, default=list)
    #: Bad rows, found when the file was checked or when a row was imported:
    #: ``[{"line": 7, "reason": "..."}]``. Reasons name fields and values, never an email.
    problems: Mapped[list] = mapped_column(JSON, default=list)
    #: Headers of the file that name no column we know: their values are not imported.
    ignored_columns: Mapped[list] = mapped_column(JSON, default=list)
    #: Good rows in the file, and how many of them have been imported so far.
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    #: A batch in progress holds the job until then, so two requests never import the same rows
    #: at once; a process that dies mid-batch lets go when the time runs out.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    staff_user: Mapped[StaffUser | None] = relationship()

    @property
    def errors(self) -> int:
        return len(self.problems)

    @property
    def is_finished(self) -> bool:
        return self.status == ImportStatus.DONE

    def start(self, send_confirmations: bool, now: datetime) -> None:
        assert self.status == ImportStatus.PREVIEW, self.status
        self.status = ImportStatus.RUNNING
        self.send_confirmations = send_confirmations
        self.started_at = now

    def record_batch(self, done: int, counts: dict[str, int], problems: list[dict]) -> None:
        """Count a batch of rows as imported, and finish the job after its last row."""
        assert self.status == ImportStatus.RUNNING, self.status
        self.done += done
        self.created += counts.get("created", 0)
        self.updated += counts.get("updated", 0)
        self.unchanged += counts.get("unchanged", 0)
        if problems:
            self.problems = [*self.problems, *problems]  # a new list: JSON is saved on assignment
        self.leased_until = None
        if self.done >= self.total:
            self.status = ImportStatus.DONE
            self.finished_at = utcnow()
            self.rows = []  # the personal data is in the participants now

    def summary(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }
