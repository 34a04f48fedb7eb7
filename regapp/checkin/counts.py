"""The door's live counter: people checked in to a session, and confirmed seats.

Counting reads the session's whole check-in log and its registrations: at a door rush with
thousands of people in, several milliseconds per count, too much to spend again on every scan.
So each server process keeps the counts it last read for each session, for at most
``CHECKIN_COUNTS_MAX_AGE`` seconds, and keeps them exact meanwhile for every change it commits
itself: an ``ok`` in the hall adds one, its undo takes one away, and a change to the session's
registrations drops the counts (they are read again). A door therefore sees its own scans at
once, and those that other server processes record within that time. 0 reads them every time.

Whether a change is already in what a read saw depends on which came first, the commit or the
read's snapshot, and each is only known to lie between two instants (sending the statement,
getting its answer). A change that certainly came before is in; one that certainly came after
is added; one that may have come either way drops the counts, which are then read again.
Changes made outside the ORM (bulk SQL) are seen when the counts are read again.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from time import monotonic

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Channel, CheckIn, Registration, Verdict

_EXTENSION = "regapp_live_counts"
_CHANGES = "regapp_live_counts_changes"
_SENT = "regapp_live_counts_commit_sent"


@dataclass
class _Read:
    started: float
    finished: float
    checked_in: int
    registered: int


@dataclass(frozen=True)
class _Change:
    session_id: int
    sent: float
    acked: float
    #: People checked in added (or taken away); ``None``: the registrations changed.
    delta: int | None


class LiveCounts:
    """One per application and process; see the module's description."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: dict[int, _Read] = {}
        #: Changes committed while a read was under way, which that read may or may not see.
        self._changes: deque[_Change] = deque()
        self._reading: list[float] = []  # start times of the reads under way

    def get(self, session_id: int, count: Callable[[int], tuple[int, int]]) -> dict[str, int]:
        """The counts of ``session_id``, from memory or from ``count`` (a query)."""
        max_age = current_app.config["CHECKIN_COUNTS_MAX_AGE"]
        # Only a read that starts its own transaction has its snapshot taken after ``started``.
        if max_age <= 0 or db.session().in_transaction():
            checked_in, registered = count(session_id)
            return {"checked_in": checked_in, "registered": registered}
        with self._lock:
            read = self._reads.get(session_id)
            if read is not None and monotonic() - read.finished < max_age:
                return {"checked_in": read.checked_in, "registered": read.registered}
            started = monotonic()
            self._reading.append(started)
        try:
            checked_in, registered = count(session_id)
        finally:
            with self._lock:
                self._reading.remove(started)
        self._keep(session_id, _Read(started, monotonic(), checked_in, registered))
        return {"checked_in": checked_in, "registered": registered}

    def _keep(self, session_id: int, read: _Read) -> None:
        with self._lock:
            for change in self._changes:
                if change.session_id != session_id or change.acked < read.started:
                    continue  # in what was read
                if change.sent > read.finished and change.delta is not None:
                    read.checked_in += change.delta
                else:
                    return  # maybe in what was read, maybe not: keep nothing
            current = self._reads.get(session_id)
            if current is None or current.finished < read.finished:
                self._reads[session_id] = read
            self._forget_changes()

    def committed(self, changes: dict[int, int | None], sent: float, acked: float) -> None:
        """This process committed ``changes`` (session id: people checked in added, or
        ``None``); the commit was sent at ``sent`` and acknowledged at ``acked``."""
        with self._lock:
            for session_id, delta in changes.items():
                if self._reading:
                    self._changes.append(_Change(session_id, sent, acked, delta))
                read = self._reads.get(session_id)
                if read is None or acked < read.started:
                    continue
                if sent > read.finished and delta is not None:
                    read.checked_in += delta
                else:
                    del self._reads[session_id]
            self._forget_changes()

    def _forget_changes(self) -> None:
        """Drop the changes acknowledged before every read under way began."""
        oldest = min(self._reading, default=float("inf"))
        while self._changes and self._changes[0].acked < oldest:
            self._changes.popleft()


def live_counts() -> LiveCounts:
    """The app's counts in this process (made by the first request that asks)."""
    extensions = current_app.extensions
    if (counts := extensions.get(_EXTENSION)) is None:
        counts = extensions.setdefault(_EXTENSION, LiveCounts())  # one, if two threads race
    return counts


# What each transaction changes is noted at every flush and handed over when it commits.


def note_checkin(session: Session, entry: CheckIn) -> None:
    """``entry`` goes into the log with the transaction of ``session``."""
    step = {Verdict.OK: 1, Verdict.ANNULLED: -1}.get(entry.verdict)
    if step and entry.channel == Channel.IN_PERSON:
        changes = session.info.setdefault(_CHANGES, {})
        if changes.get(entry.session_id, 0) is not None:
            changes[entry.session_id] = changes.get(entry.session_id, 0) + step


def registrations_committed(session_ids: Iterable[int], sent: float) -> None:
    """Registrations for these sessions were committed outside the ORM (written in SQL, in a
    transaction whose statements were sent from ``sent`` on): their counts are read again."""
    live_counts().committed(dict.fromkeys(session_ids), sent, monotonic())


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    for item in session.new:
        if isinstance(item, CheckIn):
            note_checkin(session, item)
    for item in chain(session.new, session.dirty, session.deleted):
        if isinstance(item, Registration):
            session.info.setdefault(_CHANGES, {})[item.session_id] = None


@event.listens_for(Session, "before_commit")
def _commit_sent(session: Session) -> None:
    session.info[_SENT] = monotonic()


@event.listens_for(Session, "after_commit")
def _commit_acknowledged(session: Session) -> None:
    changes, sent = session.info.pop(_CHANGES, None), session.info.pop(_SENT, None)
    if changes and sent is not None and has_app_context():
        live_counts().committed(changes, sent, monotonic())


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGES, None)
    session.info.pop(_SENT, None)
