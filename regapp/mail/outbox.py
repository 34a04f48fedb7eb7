"""The email outbox: queue a message with the change it reports, deliver it afterwards.

Delivery is at least once: a sender first claims a due message (an UPDATE that only one sender
can win, which also leases it for a while), commits the claim, then talks to the mail server
without holding any transaction. A failure is retried with back-off; a sender that dies
mid-delivery leaves a claim that runs out and the message becomes due again.
"""

import threading
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import func, or_, select, update

from ..database import begin_write
from ..extensions import db
from ..models import MessageKind, MessageStatus, OutboxMessage, Participant
from ..models.types import utcnow
from .messages import build_message
from .transport import DeliveryError, deliver

CLAIM_LEASE = timedelta(minutes=10)
STATES = [s.value for s in MessageStatus]


def queue(kind: MessageKind, participant: Participant, session_title: str = "") -> None:
    """Add a message to the caller's transaction; it is sent once that commits."""
    db.session.add(
        OutboxMessage(
            kind=kind,
            participant=participant,
            recipient=participant.email,
            session_title=session_title,
        )
    )


def deliver_due(now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """Try every message that is due; returns how many were sent and how many failed."""
    now = now or utcnow()
    result = {"sent": 0, "failed": 0}
    due = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.next_attempt_at)
        .where(
            OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    for message_id, status, due_at in due:
        if _claim(message_id, status, due_at, now):
            result["sent" if _deliver_one(message_id, now) else "failed"] += 1
    return result


def _claim(message_id: int, status: str, due_at: datetime, now: datetime) -> bool:
    begin_write()
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == status,
            OutboxMessage.next_attempt_at == due_at,
        )
        .values(
            status=MessageStatus.SENDING,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + CLAIM_LEASE,
        )
    )
    db.session.commit()
    return claimed.rowcount == 1


def _deliver_one(message_id: int, now: datetime) -> bool:
    row = db.session.get(OutboxMessage, message_id)
    kind, recipient = row.kind, row.recipient
    error = None
    try:
        if row.participant is None or row.participant.is_erased:
            raise DeliveryError("the participant's data has been erased")
        # Links in the message point at the public address, not at whoever is sending.
        with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
            message = build_message(row, row.participant)
        db.session.rollback()  # hold no transaction while talking to the mail server
        where = deliver(message, name=f"{now:%Y%m%dT%H%M%S}-{message_id:06d}-{kind}")
    except DeliveryError as failure:
        error = str(failure)
    begin_write()
    row = db.session.get(OutboxMessage, message_id)
    if error is None:
        row.mark_sent(utcnow())
    else:
        row.mark_failed(error, utcnow(), current_app.config["MAIL_MAX_ATTEMPTS"])
    db.session.commit()
    if error is not None:
        current_app.logger.warning(
            "Email %s not sent (attempt %s): %s", message_id, row.attempts, error
        )
        return False
    if current_app.config["MAIL_BACKEND"] == "files":
        print(f"Email ({kind}) to {recipient} written to {where}", flush=True)
    return True


def status_counts() -> dict[str, int]:
    return dict(
        db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )


def recent(limit: int = 20, problems_only: bool = False) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if problems_only:
        query = query.where(
            or_(OutboxMessage.status == MessageStatus.FAILED, OutboxMessage.last_error != "")
        )
    return list(db.session.scalars(query))


class OutboxWorker:
    """A background thread per serving process that delivers due messages. It starts with the
    first request (so ``flask db upgrade`` and other commands run none); :meth:`wake` after a
    commit that queued a message sends it at once instead of at the next poll."""

    def __init__(self, app: Flask):
        self.app = app
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="regapp-outbox", daemon=True
                    )
                    self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.app.config["MAIL_POLL_SECONDS"])
            self._wake.clear()
            with self.app.app_context():
                try:
                    deliver_due()
                except Exception:  # noqa: BLE001 - the worker must outlive a bad moment
                    self.app.logger.exception("outbox delivery failed; will try again")
                    db.session.rollback()


def init_outbox_worker(app: Flask) -> None:
    if not app.config["MAIL_WORKER"]:
        return
    worker = app.extensions["regapp_outbox_worker"] = OutboxWorker(app)
    app.before_request(worker.ensure_started)


def wake_worker() -> None:
    """Nudge this process's outbox worker, if it runs one."""
    if worker := current_app.extensions.get("regapp_outbox_worker"):
        worker.wake()
