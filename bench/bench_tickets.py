"""How long the access code's images and PDF tickets take to make.

Builds a realistic participant (accented name, long organisation, five sessions of a two-day
forum, one of them waitlisted) through the application factory on a temporary SQLite database,
then times each way of showing the code N times with ``time.perf_counter`` and prints the median
and the 95th percentile in milliseconds. It appends a dated section with the machine and the
figures to ``bench/README.md``, unless told ``--no-record``.

    .venv/bin/python bench/bench_tickets.py [--iterations N] [--no-record]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from machine import add_record_option, describe, markdown_table, packages, percentile, record

from regapp import create_app
from regapp.extensions import db
from regapp.models import Event, EventSession, Participant
from regapp.tickets import pdf
from regapp.tickets.pdf import ticket_pdf
from regapp.tickets.qr import qr_png, qr_svg

PROGRAMME = [  # day, minutes after 10:00 local, duration, title, room
    (0, 0, 90, "Opening session", "Hall A"),
    (0, 120, 90, "Panel 1: Public service delivery during the pandemic", "Hall A"),
    (0, 270, 90, "Panel 2: Social innovations and smart solutions in pandemic control", "Hall B"),
    (1, 0, 90, "Panel 3: Accessible digital government for everyone", "Hall B"),
    (1, 120, 90, "Panel 4: International cooperation and exchange of experience", "Hall A"),
    (1, 300, 60, "Closing session", "Hall A"),
]


def make_participant() -> Participant:
    first_day = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    event = Event(
        slug="global-web-forum",
        name="Global Web Forum on Agile Government Response",
        timezone="Asia/Baku",
        venue="Baku, and online",
        organiser="State Agency for Public Service and Social Innovations",
    )
    for position, (day, offset, minutes, title, room) in enumerate(PROGRAMME):
        starts = first_day + timedelta(days=14 + day, minutes=offset)
        event.sessions.append(
            EventSession(
                title=title,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=minutes),
                room=room,
                capacity=300,
                position=position,
            )
        )
    participant = Participant(
        event=event,
        full_name="Jean-Pierre Élong Mbassi-Ndoumbé",
        email="jp@example.org",
        country="CM",
        organisation="Islamic World Educational, Scientific and Cultural Organization (ICESCO)",
        job_title="Director",
        category="speaker",
        consent_at=datetime.now(UTC),
    )
    participant.issue_code()
    for index, session in enumerate(event.sessions):
        if index != 2:  # skips Panel 2; Panel 4 is on the waitlist
            participant.join_session(session, seat_available=index != 4)
    db.session.add(event)
    db.session.add(participant)
    db.session.commit()
    return participant


def measure(work: Callable[[], object], iterations: int) -> tuple[list[float], int]:
    """Milliseconds of each of ``iterations`` runs, after one untimed warm-up run."""
    result = work()
    size = len(result) if isinstance(result, bytes | bytearray) else 0
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times, size


def run(iterations: int) -> list[tuple[str, float, float, int]]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {"DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3", "SECRET_KEY": "bench"}
        )
        with app.app_context():
            logging.disable(logging.WARNING)  # Alembic's INFO lines
            upgrade()
            logging.disable(logging.NOTSET)
            participant = make_participant()
            code, token = participant.active_code.code, participant.manage_token

            start = time.perf_counter()
            ticket_pdf(participant, "a4")  # registers the fonts
            first_pdf = (time.perf_counter() - start) * 1000

            client = app.test_client()
            etag = client.get(f"/manage/{token}/qr.png").headers["ETag"]
            cases = [
                ("PNG (qr_png, 330 x 330 px)", lambda: qr_png(code)),
                ("SVG (qr_svg)", lambda: qr_svg(code)),
                ("PDF ticket, A4", lambda: ticket_pdf(participant, "a4")),
                ("PDF ticket, A6 badge", lambda: ticket_pdf(participant, "a6")),
                (
                    "GET qr.png, 200 (whole request)",
                    lambda: client.get(f"/manage/{token}/qr.png").data,
                ),
                (
                    "GET qr.png, 304 (If-None-Match)",
                    lambda: (
                        client.get(f"/manage/{token}/qr.png", headers={"If-None-Match": etag}).data
                    ),
                ),
            ]
            rows = []
            for label, work in cases:
                times, size = measure(work, iterations)
                rows.append((label, statistics.median(times), percentile(times, 0.95), size))
            rows.append(("First PDF in a process (fonts loaded)", first_pdf, first_pdf, 0))
            db.session.remove()
            db.engine.dispose()
    return rows


def table(rows, iterations: int) -> str:
    return markdown_table(
        [f"benchmark ({iterations} runs each)", "median ms", "p95 ms", "output bytes"],
        "lrrr",
        [[label, f"{median:.2f}", f"{p95:.2f}", size or ""] for label, median, p95, size in rows],
    )


def machine() -> str:
    return describe(None, packages("reportlab", "qrcode", "pillow"), f"font: {pdf.fonts().label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", "-n", type=int, default=100)
    add_record_option(parser)
    args = parser.parse_args()

    rows = run(args.iterations)
    result = table(rows, args.iterations)
    print(machine())
    print(result)
    if args.record:
        record("", f"{machine()}\n\n{result}")


if __name__ == "__main__":
    sys.exit(main())
