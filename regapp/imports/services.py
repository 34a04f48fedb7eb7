"""Importing invited participants from a CSV file.

Two steps. :func:`check_file` reads the file and checks every row (a pure function: nothing is
written), and :func:`plan` says what importing the good rows would do to the event's
participants. Then the good rows are kept in an :class:`ImportJob` and imported in batches
(:func:`run_batch`), one row at a time through the registration services, so that capacity and
the waitlist work exactly as for a registration made online.

The import is idempotent: a person is keyed by (event, lower(email)); a new email registers a
new participant, a known one has their details and sessions brought in line with the file (the
sessions in the file *replace* theirs: sessions not listed are given up, and their seats go to
the waitlist), and a row that matches the database already changes nothing. Running the same
file twice therefore creates and updates nothing the second time.
"""

from __future__ import annotations

import csv
import io
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select

from .. import audit, countries
from ..database import begin_write
from ..errors import Refusal
from ..extensions import db
from ..models import (
    CATEGORIES,
    Event,
    EventSession,
    ImportJob,
    ImportStatus,
    Participant,
    Registration,
    RegistrationStatus,
    StaffUser,
)
from ..models.types import utcnow
from ..registration.services import (
    ParticipantDetails,
    RegistrationError,
    change_sessions,
    confirmed_counts,
    register_values,
)

#: Rows in one file; larger lists go in several files.
MAX_ROWS = 10_000
#: A batch imports at most this many rows, and stops early after BATCH_SECONDS, so that the
#: browser's progress bar moves about every second.
BATCH_ROWS = 200
BATCH_SECONDS = 1.0
#: How long a batch holds its job; a process that dies mid-batch lets go after this.
LEASE = timedelta(minutes=2)
#: Previews never imported are thrown away after this (they hold personal data).
PREVIEW_KEPT = timedelta(days=1)
SESSION_SEPARATOR = ";"
NO_SESSIONS = "no sessions (list at least one session title; separate several with “;”)"
#: Longest value quoted back in a problem's reason.
QUOTED = 60


class ImportFileError(Refusal):
    """The file as a whole cannot be used (not CSV, not UTF-8, columns missing ...)."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    required: bool
    #: Header spellings accepted, as :func:`_header_key` gives them.
    names: tuple[str, ...]
    help: str
    max_length: int = 200
    #: The reason given when a required value is missing; default "<label> is missing".
    missing: str = ""


COLUMNS = (
    Column(
        "full_name",
        "Full name",
        True,
        ("full name", "fullname", "name", "participant", "participant name", "name and surname"),
        "As it should appear on the badge.",
    ),
    Column(
        "email",
        "Email",
        True,
        ("email", "e mail", "email address", "e mail address", "mail"),
        "Identifies the person: importing a file again updates the people it already holds.",
        max_length=254,
    ),
    Column(
        "country",
        "Country",
        True,
        ("country", "country code", "country name", "country iso code"),
        "An ISO code (KZ or KAZ) or the English name (Kazakhstan).",
    ),
    Column(
        "organisation",
        "Organisation",
        False,
        ("organisation", "organization", "org", "affiliation", "institution", "agency", "company"),
        "May be empty.",
    ),
    Column(
        "job_title",
        "Job title",
        False,
        ("job title", "jobtitle", "position", "job", "designation", "function"),
        "May be empty.",
    ),
    Column(
        "category",
        "Category",
        False,
        ("category", "participant category", "type", "participant type", "registration type"),
        f"One of {', '.join(CATEGORIES)}; empty means delegate.",
        max_length=20,
    ),
    Column(
        "sessions",
        "Sessions",
        True,
        ("sessions", "session", "session titles", "session title", "session names"),
        "Session titles as in the programme; several in one cell, separated by “;”.",
        missing=NO_SESSIONS,
        max_length=5000,  # several titles of up to 200 characters each
    ),
)
LABELS = {c.key: c.label for c in COLUMNS}
DETAIL_FIELDS = ("full_name", "country", "organisation", "job_title", "category")
DETAIL_COLUMNS = [getattr(Participant, k) for k in DETAIL_FIELDS]


@dataclass
class CheckedFile:
    """What :func:`check_file` found: the good rows, ready to import, and the bad ones."""

    #: ``{"line", "full_name", "email", "country", "organisation", "job_title", "category",
    #: "sessions": [session ids]}`` per good row.
    rows: list[dict] = field(default_factory=list)
    #: ``{"line", "reason"}`` per bad row.
    problems: list[dict] = field(default_factory=list)
    #: Headers of the file that name no column we know (their values are not imported).
    ignored: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What importing the rows would do now."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: (line, labels of the fields that change) for each row that updates someone.
    changes: list[tuple[int, list[str]]] = field(default_factory=list)
    #: (session title, new places the file asks for, seats left) where the seats run out.
    crowded: list[tuple[str, int, int]] = field(default_factory=list)


# ------------------------------------------------------------------------------ the file


def check_file(event: Event, data: bytes) -> CheckedFile:
    """Read a CSV file of invitees for ``event`` and check every row. Raises
    :class:`ImportFileError` when the file as a whole cannot be used."""
    text = _decode(data)
    reader, columns, width, ignored = _open_csv(text)
    checked = CheckedFile(ignored=ignored)
    sessions = _SessionTitles(event)
    first_line: dict[str, int] = {}  # lower(email) -> line where it first appears
    line = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise ImportFileError(
                f"Line {line} cannot be read as CSV ({error}). Check the quotes on that line."
            ) from None
        row_line, line = line, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue  # a blank line
        if len(checked.rows) + len(checked.problems) >= MAX_ROWS:
            raise ImportFileError(
                f"The file has more than {MAX_ROWS:,} rows. Split it into smaller files."
            )
        row, reasons = _check_row(values, columns, width, sessions)
        email = row.get("email", "").lower()
        if email and (seen := first_line.setdefault(email, row_line)) != row_line:
            reasons.append(f"the same email as line {seen} (each person once per file)")
        if reasons:
            checked.problems.append({"line": row_line, "reason": "; ".join(reasons)})
        else:
            checked.rows.append({"line": row_line, **row})
    return checked


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportFileError(
            "This is a spreadsheet workbook (such as .xlsx), not a CSV file. In Excel choose "
            "File › Save As › “CSV UTF-8 (Comma delimited)”, then upload that file."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            "The file is UTF-16 text. Save it as “CSV UTF-8 (Comma delimited)” and upload it again."
        )
    if b"\x00" in data:
        raise ImportFileError("This is not a CSV file: it contains binary data.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileError(
            f"The file is not UTF-8 text (the first character that is not is on line {line}). "
            "Save it as “CSV UTF-8 (Comma delimited)” and upload it again."
        ) from None


def _header_key(header: str) -> str:
    """``E-mail``, ``email_address *`` and ``Email (work)`` as ``e mail``, ``email address``,
    ``email``."""
    text = unicodedata.normalize("NFKC", header).casefold()
    text = re.sub(r"\(.*?\)|\*", " ", text)
    return " ".join(re.sub(r"[_\-./:]", " ", text).split())


def _open_csv(text: str):
    """A CSV reader past the header line, the column positions by key, the number of columns,
    and the headers not used. Comma or semicolon (or tab): the first that makes a header line
    with every required column, starting with the one :class:`csv.Sniffer` suggests."""
    try:
        sniffed = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        sniffed = ","
    best = None
    for delimiter in dict.fromkeys((sniffed, ",", ";", "\t")):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except csv.Error as error:
            raise ImportFileError(f"The first line cannot be read as CSV ({error}).") from None
        columns, ignored, missing, twice = _map_headers(header)
        if not missing and not twice:
            return reader, columns, len(header), ignored
        if best is None or len(columns) > len(best[0]):
            best = (columns, missing, twice, header)
    columns, missing, twice, header = best
    if twice:
        raise ImportFileError(f"The column {twice[0]} appears twice in the first line.")
    found = ", ".join(f"“{h.strip()}”" for h in header if h.strip()) or "nothing"
    raise ImportFileError(
        f"The first line must name the columns. Missing: {', '.join(missing)}. "
        f"Found: {found[:300]}. Download the template to see the expected columns."
    )


def _map_headers(header: list[str]):
    by_name = {name: c for c in COLUMNS for name in c.names}
    columns: dict = {}
    ignored, twice = [], []
    for position, title in enumerate(header):
        column = by_name.get(_header_key(title))
        if column is None:
            if title.strip():
                ignored.append(title.strip())
        elif column.key in columns:
            twice.append(column.label)
        else:
            columns[column.key] = position
    missing = [c.label for c in COLUMNS if c.required and c.key not in columns]
    return columns, ignored, missing, twice


def _clean(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _quote(value: str) -> str:
    return f"“{value[:QUOTED]}{'…' if len(value) > QUOTED else ''}”"


def _check_row(values: list[str], columns: dict, width: int, sessions: _SessionTitles):
    """The row's values, checked and resolved, and the reasons it cannot be imported."""
    reasons: list[str] = []
    if len(values) > width and any(v.strip() for v in values[width:]):
        reasons.append(
            f"{len(values)} values, but the first line names {width} columns: put values "
            "that contain a comma or semicolon in double quotes"
        )
    row: dict = {}
    for column in COLUMNS:
        position = columns.get(column.key)
        value = _clean(values[position]) if position is not None and position < len(values) else ""
        label = column.label.lower() if column.key != "email" else "email"
        if column.required and not value:
            reasons.append(column.missing or f"{label} is missing")
        elif len(value) > column.max_length:
            reasons.append(f"{label} is longer than {column.max_length} characters")
        elif any(unicodedata.category(ch) == "Cc" for ch in value):
            reasons.append(f"{label} contains control characters (such as line breaks)")
        else:
            row[column.key] = value
    if email := row.get("email"):
        try:
            validate_email(email, check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError:
            reasons.append("email is not a valid address (like name@example.org)")
            del row["email"]  # not compared with other rows' emails either
    if country := row.get("country"):
        row["country"] = countries.lookup(country)
        if row["country"] is None:
            reasons.append(
                f"unknown country {_quote(country)} (use an ISO code such as KZ or KAZ, "
                "or the English name such as Kazakhstan)"
            )
    if (category := row.get("category")) is not None:
        row["category"] = _category(category)
        if row["category"] is None:
            reasons.append(
                f"unknown category {_quote(category)} "
                f"(use {', '.join(CATEGORIES)}, or leave it empty for delegate)"
            )
    if "sessions" in row:
        row["sessions"] = sessions.resolve(row["sessions"], reasons)
    return row, reasons


def _category(value: str) -> str | None:
    if not value:
        return "delegate"
    wanted = value.casefold()
    return next(
        (key for key, label in CATEGORIES.items() if wanted in (key, label.casefold())), None
    )


def _title_key(title: str) -> str:
    return " ".join(unicodedata.normalize("NFC", title).casefold().split())


class _SessionTitles:
    """The event's sessions by title, whatever the case and spacing."""

    def __init__(self, event: Event):
        self.now = utcnow()
        self.by_title: dict[str, list[EventSession]] = {}
        for session in event.sessions:
            self.by_title.setdefault(_title_key(session.title), []).append(session)

    def resolve(self, cell: str, reasons: list[str]) -> list[int]:
        titles = [t.strip() for t in cell.split(SESSION_SEPARATOR) if t.strip()]
        if not titles:
            reasons.append(NO_SESSIONS)
        ids: list[int] = []
        for title in titles:
            found = self.by_title.get(_title_key(title), [])
            if not found:
                hint = (
                    f"; separate several sessions with “{SESSION_SEPARATOR}”"
                    if "," in title
                    else ""
                )
                reasons.append(f"unknown session {_quote(title)}{hint}")
            elif len(found) > 1:
                reasons.append(
                    f"several sessions are called {_quote(title)}: give them different titles "
                    "in the programme"
                )
            elif self.now >= found[0].ends_at:
                reasons.append(f"session {_quote(found[0].title)} has already taken place")
            elif found[0].id not in ids:
                ids.append(found[0].id)
        return ids


# ------------------------------------------------------------------------------ what would change


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _details(row: dict, email: str) -> ParticipantDetails:
    return ParticipantDetails(email=email, **{k: row[k] for k in DETAIL_FIELDS})


def _current(event: Event, emails: list[str]) -> dict[str, dict]:
    """The event's participants with these emails, by lower(email), as plain data (their
    email, details, and the ids of the sessions they hold or wait for): two queries per 500."""
    found: dict[str, dict] = {}
    for chunk in _chunks([e.lower() for e in emails]):
        query = select(Participant.id, Participant.email, *DETAIL_COLUMNS).where(
            Participant.event_id == event.id, func.lower(Participant.email).in_(chunk)
        )
        found.update(
            (r.email.lower(), {**r._asdict(), "sessions": set()}) for r in db.session.execute(query)
        )
    by_id = {p["id"]: p for p in found.values()}
    for chunk in _chunks(list(by_id)):
        query = select(Registration.participant_id, Registration.session_id).where(
            Registration.participant_id.in_(chunk),
            Registration.status != RegistrationStatus.CANCELLED,
        )
        for participant_id, session_id in db.session.execute(query):
            by_id[participant_id]["sessions"].add(session_id)
    return found


def _changed_fields(current: dict, row: dict) -> list[str]:
    """Labels of what the row would change about a participant (as :func:`_current` gives
    them); empty: nothing."""
    changed = [LABELS[k] for k in DETAIL_FIELDS if current[k] != row[k]]
    if current["sessions"] != set(row["sessions"]):
        changed.append(LABELS["sessions"])
    return changed


def plan(event: Event, rows: list[dict]) -> Plan:
    """What importing ``rows`` into ``event`` would do now, read in a few queries."""
    existing = _current(event, [r["email"] for r in rows])
    result = Plan()
    asked: Counter[int] = Counter()  # new places per session
    for row in rows:
        current = existing.get(row["email"].lower())
        if current is None:
            result.created += 1
            asked.update(row["sessions"])
        elif changed := _changed_fields(current, row):
            result.updated += 1
            result.changes.append((row["line"], changed))
            asked.update(set(row["sessions"]) - current["sessions"])
        else:
            result.unchanged += 1
    taken = confirmed_counts(asked)
    for session in event.sessions:
        if session.id in asked and session.capacity is not None:
            left = max(session.capacity - taken.get(session.id, 0), 0)
            if asked[session.id] > left:
                result.crowded.append((session.title, asked[session.id], left))
    return result


# ------------------------------------------------------------------------------ the import


def refuse_archived(event: Event) -> None:
    if event.archived_at is not None:
        raise ImportFileError("This event is archived: it takes no new participants.")


def create_job(
    event: Event,
    checked: CheckedFile,
    filename: str,
    staff: StaffUser | None = None,
    actor: str = "",
) -> ImportJob:
    """Keep a checked file for importing (nothing is imported yet); previews left unused for a
    day are thrown away meanwhile."""
    refuse_archived(event)
    now = utcnow()
    begin_write()
    db.session.execute(
        delete(ImportJob).where(
            ImportJob.status == ImportStatus.PREVIEW, ImportJob.created_at < now - PREVIEW_KEPT
        )
    )
    job = ImportJob(
        event=event,
        staff_user=staff,
        actor=actor or (audit.actor_label(staff) if staff else ""),
        filename=filename[:255],
        rows=checked.rows,
        problems=checked.problems,
        ignored_columns=checked.ignored,
        total=len(checked.rows),
        created_at=now,
    )
    db.session.add(job)
    db.session.commit()
    return job


def start(job: ImportJob, send_confirmations: bool) -> None:
    """Begin importing a previewed file (a second click, or a second tab, changes nothing)."""
    refuse_archived(job.event)
    if not job.total:
        raise ImportFileError("No row of this file can be imported: fix it and upload it again.")
    job_id = job.id
    begin_write()
    job = _locked(job_id)
    if job.status == ImportStatus.PREVIEW:
        job.start(send_confirmations, utcnow())
    db.session.commit()


def run_batch(job: ImportJob, max_rows: int | None = None, seconds: float | None = None) -> bool:
    """Import the job's next rows (at most ``max_rows``, for about ``seconds``: by default
    :data:`BATCH_ROWS` and :data:`BATCH_SECONDS`), one transaction per row. ``False`` when
    another request is importing this job's rows right now (or the job is not running), and
    nothing was done."""
    max_rows, seconds = max_rows or BATCH_ROWS, seconds or BATCH_SECONDS
    job_id = job.id
    begin_write()
    job = _locked(job_id)
    now = utcnow()
    claimed = job.status == ImportStatus.RUNNING and not (
        job.leased_until and job.leased_until > now
    )
    if claimed:
        job.leased_until = now + LEASE
    rows = job.rows[job.done : job.done + max_rows] if claimed else []
    event, notify = job.event, job.send_confirmations
    db.session.commit()
    if not claimed:
        return False
    counts: Counter[str] = Counter()
    problems: list[dict] = []
    started = time.monotonic()
    try:
        existing = _current(event, [r["email"] for r in rows])
        for row in rows:
            try:
                counts[import_row(event, row, notify, existing.get(row["email"].lower()))] += 1
            except RegistrationError as error:
                problems.append({"line": row["line"], "reason": error.message})
            if time.monotonic() - started > seconds:
                break
    finally:
        # Record what was done, even when a row failed unexpectedly (the error goes on up).
        db.session.rollback()
        begin_write()
        job = _locked(job_id)
        job.record_batch(sum(counts.values()) + len(problems), counts, problems)
        if job.is_finished:
            audit.record(
                "participants.import",
                event=job.event,
                target=f"import {job.id}",
                details={**job.summary(), "send_confirmations": job.send_confirmations},
                actor=job.actor or None,
            )
        db.session.commit()
    return True


def import_row(event: Event, row: dict, notify: bool, current: dict | None) -> str:
    """Bring one participant in line with a row of the file (``current``: the participant with
    its email, as :func:`_current` gives them, or ``None``): ``created``, ``updated`` or
    ``unchanged``. Raises :class:`RegistrationError` having changed nothing."""
    if current is None:
        try:
            register_values(  # nothing here reads the new participant back
                event,
                _details(row, row["email"]),
                row["sessions"],
                notify=notify,
                by_organiser=True,
            )
            return "created"
        except RegistrationError as error:
            if error.field != "email":
                raise
        # Registered online in the meantime: update them instead.
        current = _current(event, [row["email"]])[row["email"].lower()]
    changed = _changed_fields(current, row)
    if not changed:
        return "unchanged"
    participant = db.session.get(Participant, current["id"])
    if participant is None:
        raise RegistrationError("The participant was deleted during the import.")
    change_sessions(
        participant,
        row["sessions"],
        details=_details(row, current["email"]),
        notify=notify and LABELS["sessions"] in changed,
        by_organiser=True,
    )
    return "updated"


def _locked(job_id: int) -> ImportJob:
    """The job, locked for this transaction (a row lock on PostgreSQL; SQLite's write lock is
    already held by :func:`begin_write`)."""
    return db.session.get(ImportJob, job_id, with_for_update=True, populate_existing=True)


def event_by_slug(slug: str) -> Event | None:
    return db.session.scalar(select(Event).where(Event.slug == slug))


def recent_jobs(event: Event, limit: int = 10) -> list[ImportJob]:
    query = select(ImportJob).where(ImportJob.event_id == event.id).order_by(ImportJob.id.desc())
    return list(db.session.scalars(query.limit(limit)))


def find_job(event: Event, job_id: int) -> ImportJob | None:
    job = db.session.get(ImportJob, job_id)
    return job if job is not None and job.event_id == event.id else None


def progress(job: ImportJob) -> dict:
    """The job's state, for the page's script."""
    return {"status": job.status, "done": job.done, "total": job.total, **job.summary()}


def template_csv() -> str:
    """An empty file with the columns, as Excel opens it (UTF-8 with a byte order mark)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([c.label for c in COLUMNS])
    return "\ufeff" + out.getvalue()
