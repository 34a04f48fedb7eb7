"""CSV and XLSX exports of the dashboard's data, narrowed by the same :class:`ReportFilter`.

Four datasets (:data:`DATASETS`): the participants with their registration and attendance per
session, and the dashboard's sessions, countries and organisations tables. The three tables are
the dashboard's own functions (:mod:`.services`), so an export gives the dashboard's numbers. The
participant list is one SQL query: each person's registrations and effective check-ins pivoted
per session with conditional aggregation (``max(case when session_id = ...)``), never a query per
participant. It lists whoever the dashboard counts for the filter: people holding a confirmed seat
or a waitlist place for a session in scope, and people checked in for one (someone can check in
and cancel afterwards). So its rows give the dashboard's figures: "registered" is the people with
a confirmed seat, "checked in" those who attended, and each session's columns add up to its
confirmed, waitlisted, checked-in, in-person and online counts.

Both formats are opened by spreadsheets, which run a cell beginning with ``=``, ``+``, ``-`` or
``@`` as a formula: such text (and text beginning with a tab or carriage return) gets a leading
apostrophe, as OWASP advises against CSV injection; numbers stay numbers. CSV is UTF-8 with a byte
order mark (so Excel reads accents right), comma-separated, CRLF line ends, quoted as RFC 4180
says. XLSX is written by XlsxWriter in constant-memory mode (each row goes to a temporary file as
it is written, so 100,000 rows take a few seconds and little memory; text is written as text,
never read as a formula or a link), with a bold, frozen header row, an autofilter, widths from
the content, and a second sheet saying which event, filter and sessions the figures are for.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from xlsxwriter import Workbook

from .. import countries
from ..extensions import db
from ..models import (
    CATEGORIES,
    Event,
    Participant,
    Registration,
    RegistrationStatus,
)
from ..models.types import utcnow
from . import services
from .services import ReportFilter

DATASETS = {
    "participants": "Participants with attendance per session",
    "sessions": "Sessions",
    "countries": "By country",
    "organisations": "By organisation",
}
FORMATS = {"csv", "xlsx"}
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

#: What makes a spreadsheet read a cell as a formula (OWASP's list, with tab and CR).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

#: Column kinds, for the XLSX number format.
TEXT, COUNT, RATE = "text", "count", "rate"


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = TEXT


@dataclass
class Table:
    """A dataset ready to write: its columns and rows (tuples of str, int, float or None)."""

    sheet: str
    columns: list[Column]
    rows: Sequence[Sequence]
    #: Columns (from the left) kept in view when scrolling sideways, besides the header row.
    frozen_columns: int = 0


def export(
    event: Event, report_filter: ReportFilter, dataset: str, fmt: str
) -> tuple[bytes, str, str]:
    """The file for ``dataset`` in ``fmt``: its bytes, mimetype and filename."""
    if dataset not in DATASETS or fmt not in FORMATS:
        raise ValueError(f"unknown export {dataset}.{fmt}")
    table = BUILDERS[dataset](event, report_filter)
    content = to_csv(table) if fmt == "csv" else to_xlsx(table, about(event, report_filter))
    return content, MIMETYPES[fmt], f"{event.slug}-{dataset}.{fmt}"


def neutralise(value):
    """Text a spreadsheet would run as a formula, made plain text with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


# --- the datasets -----------------------------------------------------------------------------

#: What the participant list says about attendance of one session.
ATTENDED = {
    (False, False): "no",
    (True, False): "in person",
    (False, True): "online",
    (True, True): "in person and online",
}


def participants_table(event: Event, f: ReportFilter) -> Table:
    report = services.scope(event, f)
    scope = report.sessions
    columns = [
        Column("Full name"),
        Column("Email"),
        Column("Country"),
        Column("Country code"),
        Column("Organisation (reported)"),
        Column("Organisation (as typed)"),
        Column("Job title"),
        Column("Category"),
    ]
    for s in scope:
        columns += [Column(f"{s.title}: registration"), Column(f"{s.title}: attended")]
    names: dict[str, str] = {}
    rows = []
    for row in db.session.execute(participants_query(event, report)):
        (name, email, country, reported, typed, job, category, *per_session) = row
        if country not in names:
            names[country] = countries.name(country)
        # An empty cell is None, which the XLSX writer skips instead of writing an empty one.
        line = [name, email, names[country], country, reported, typed, job or None]
        line.append(CATEGORIES.get(category, category))
        for i in range(len(scope)):
            status, in_person, online = per_session[3 * i : 3 * i + 3]
            line += [status, ATTENDED[bool(in_person), bool(online)]]
        rows.append(line)
    return Table("Participants", columns, rows, frozen_columns=1)


def participants_query(event: Event, report: services.Scope):
    """One row per person the dashboard counts for ``report``, with (status, in person, online)
    for each of its sessions: their registrations pivoted by session, and their attendance
    masks (:class:`~regapp.models.participants.Participant`)."""
    scope = report.sessions
    ids = [s.id for s in scope]
    registrations = (
        select(
            Registration.participant_id.label("participant_id"),
            func.count(case((Registration.status != RegistrationStatus.CANCELLED, 1))).label(
                "active"
            ),
            *(
                func.max(case((Registration.session_id == s.id, Registration.status))).label(
                    f"status_{s.id}"
                )
                for s in scope
            ),
        )
        .where(Registration.session_id.in_(ids))
        .group_by(Registration.participant_id)
        .subquery("registered")
    )
    organisation, alias, join = services.organisation_name(event.id)
    return (
        select(
            Participant.full_name,
            Participant.email,
            Participant.country,
            organisation,
            Participant.organisation,
            Participant.job_title,
            Participant.category,
            *(
                column
                for s in scope
                for column in (
                    registrations.c[f"status_{s.id}"],
                    Participant.in_person.bitwise_and(s.mask),
                    Participant.online.bitwise_and(s.mask),
                )
            ),
        )
        .outerjoin(alias, join)
        .outerjoin(registrations, registrations.c.participant_id == Participant.id)
        .where(
            Participant.event_id == event.id,
            *report.people,
            or_(registrations.c.active > 0, services.ATTENDED.bitwise_and(report.mask) != 0),
        )
        .order_by(func.lower(Participant.full_name), Participant.id)
    )


def sessions_export(event: Event, f: ReportFilter) -> Table:
    columns = [
        Column("Session"),
        Column("Day"),
        Column("Starts"),
        Column("Capacity", COUNT),
        Column("Confirmed", COUNT),
        Column("Waitlisted", COUNT),
        Column("Checked in", COUNT),
        Column("In person", COUNT),
        Column("Online", COUNT),
        Column("No-shows", COUNT),
        Column("Attendance rate", RATE),
    ]
    keys = [
        "title",
        "day",
        "starts",
        "capacity",
        "confirmed",
        "waitlisted",
        "checked_in",
        "in_person",
        "online",
        "no_shows",
        "attendance_rate",
    ]
    rows = [[r[k] for k in keys] for r in services.sessions_table(event, f)]
    return Table("Sessions", columns, rows)


def countries_export(event: Event, f: ReportFilter) -> Table:
    columns = [
        Column("Country"),
        Column("Country code"),
        Column("Registered", COUNT),
        Column("Checked in", COUNT),
        Column("Attendance rate", RATE),
    ]
    rows = [
        [r["name"], r["key"], r["registered"], r["checked_in"], r["attendance_rate"]]
        for r in services.breakdown(event, f, "country")["rows"]
    ]
    return Table("Countries", columns, rows)


def organisations_export(event: Event, f: ReportFilter) -> Table:
    columns = [
        Column("Organisation"),
        Column("Registered", COUNT),
        Column("Checked in", COUNT),
        Column("Attendance rate", RATE),
    ]
    rows = [
        [r["name"], r["registered"], r["checked_in"], r["attendance_rate"]]
        for r in services.breakdown(event, f, "organisation")["rows"]
    ]
    return Table("Organisations", columns, rows)


BUILDERS = {
    "participants": participants_table,
    "sessions": sessions_export,
    "countries": countries_export,
    "organisations": organisations_export,
}


def about(event: Event, f: ReportFilter) -> list[tuple[str, str]]:
    """What an XLSX file says about itself on its second sheet."""
    scope = services.sessions_in_scope(event, f)
    titles = {s.id: s.title for s in event.sessions}
    lines = [
        ("Event", event.name),
        ("Exported", f"{event.local(utcnow()):%Y-%m-%d %H:%M} ({event.timezone})"),
        ("Day", f.day.isoformat() if f.day else "all"),
        ("Session", titles.get(f.session_id, "all") if f.session_id else "all"),
        ("Category", CATEGORIES.get(f.category, f.category) if f.category else "all"),
        ("Country", countries.name(f.country) if f.country else "all"),
        ("Organisation", f.organisation or "all"),
    ]
    lines += [("Session in scope", s.title) for s in scope]
    return lines


# --- the formats ------------------------------------------------------------------------------


def to_csv(table: Table) -> bytes:
    """RFC 4180 (CRLF, fields quoted when they hold a comma, quote or line break), UTF-8 with a
    byte order mark; an empty cell for ``None``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c.title) for c in table.columns])
    writer.writerows([neutralise(value) for value in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


#: Width limits of an XLSX column, in characters.
MIN_WIDTH, MAX_WIDTH = 8, 50
#: Rows read to size the columns: enough to see the typical lengths, cheap on 100,000 rows.
WIDTH_SAMPLE = 1000


def to_xlsx(table: Table, about_lines: Iterable[tuple[str, str]]) -> bytes:
    out = io.BytesIO()
    # Text stays text: nothing a participant typed becomes a formula, a number or a link.
    workbook = Workbook(
        out,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    bold, percent = workbook.add_format({"bold": True}), workbook.add_format({"num_format": "0.0%"})

    sheet = workbook.add_worksheet(table.sheet)
    for index, width in enumerate(_widths(table)):
        sheet.set_column(index, index, width)
    sheet.freeze_panes(1, table.frozen_columns)
    for index, column in enumerate(table.columns):
        sheet.write_string(0, index, _xlsx_text(column.title), header)
    formats = [percent if c.kind == RATE else None for c in table.columns]
    write = sheet.write_row if not any(formats) else None
    for number, row in enumerate(table.rows, start=1):
        values = [_xlsx_text(v) if isinstance(v, str) else v for v in row]
        if write:
            write(number, 0, values)
            continue
        for index, value in enumerate(values):
            if value is not None:
                sheet.write(number, index, value, formats[index])
    sheet.autofilter(0, 0, len(table.rows), len(table.columns) - 1)

    info = workbook.add_worksheet("About this export")
    info.set_column(0, 0, 18)
    info.set_column(1, 1, 70)
    for number, (label, value) in enumerate(about_lines):
        info.write_string(number, 0, label, bold)
        info.write_string(number, 1, _xlsx_text(value))
    workbook.close()
    return out.getvalue()


#: What an XLSX file cannot hold: the control characters other than tab, line feed and return.
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010\013\014\016-\037]")


def _xlsx_text(value: str) -> str:
    """Neutralised, and without the control characters an XLSX file cannot hold."""
    return neutralise(ILLEGAL_CHARACTERS.sub("", value))


def _widths(table: Table) -> list[float]:
    widths = []
    for index, column in enumerate(table.columns):
        longest = max(
            (len(str(row[index])) for row in table.rows[:WIDTH_SAMPLE] if row[index] is not None),
            default=0,
        )
        header = min(len(column.title), 30)  # long headers wrap rather than widen
        widths.append(min(max(longest + 2, header + 2, MIN_WIDTH), MAX_WIDTH))
    return widths
