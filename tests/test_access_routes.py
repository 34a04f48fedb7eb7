"""Who may use every route of the application.

Every rule in ``app.url_map`` has a row in :data:`ACCESS` saying what each kind of visitor gets:
someone anonymous, a participant (who holds a manage link), a scanner, an organiser and an
administrator (staff, signed in), and a scanning device (a bearer token). The scanner and the
organiser work on the event "forum"; the device belongs to it; the administrator works on every
event. A route missing from the table fails :func:`test_every_route_is_classified`.

The walk also checks that no GET request changes the database (the personal join link aside,
which records online attendance), that a refused request changes nothing, that staff of one event
are refused on another's routes, and that an object of another event is not found under the URL
of an event one may use (the class of pretix's CVE-2026-5600, which leaked check-in data across
events).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from werkzeug.security import generate_password_hash

from regapp.checkin.services import Door, Scan, record_scan
from regapp.extensions import db
from regapp.models import DeviceToken, Event, EventSession, ImportJob, Role, StaffUser
from regapp.registration.services import ParticipantDetails, register
from regapp.reports.merges import merge
from tests.conftest import wipe
from tests.dbstate import snapshot

OK, LOGIN, FORBIDDEN, NOT_FOUND = "allowed", "sign-in", "403", "404"
ROLES = ("anonymous", "participant", "scanner", "organiser", "admin", "device")


class Access(NamedTuple):
    anonymous: str
    participant: str
    scanner: str
    organiser: str
    admin: str
    device: str


#                 anonymous  participant scanner    organiser  admin      device
PUBLIC = Access(OK, OK, OK, OK, OK, OK)
#: Pages of a participant: the private link is the credential, so nobody else finds them.
OWN_LINK = Access(NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND)
STAFF = Access(LOGIN, LOGIN, OK, OK, OK, LOGIN)
ORGANISER = Access(LOGIN, LOGIN, FORBIDDEN, OK, OK, LOGIN)
ADMIN = Access(LOGIN, LOGIN, FORBIDDEN, FORBIDDEN, OK, LOGIN)
#: The JSON API: a signed-in scanner or a device of the event.
SCAN_API = Access(LOGIN, LOGIN, OK, OK, OK, OK)
WALK_IN_API = Access(LOGIN, LOGIN, FORBIDDEN, OK, OK, FORBIDDEN)

#: Every route: "METHOD rule" -> who gets what. Add a row for every new route.
ACCESS: dict[str, Access] = {
    # Public pages
    "GET /": PUBLIC,
    "GET /static/<path:filename>": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /e/<slug>/": PUBLIC,
    "GET /e/<slug>/privacy": PUBLIC,
    "GET /e/<slug>/register": PUBLIC,
    "POST /e/<slug>/register": PUBLIC,
    "GET /e/<slug>/resend": PUBLIC,
    "POST /e/<slug>/resend": PUBLIC,
    "GET /staff/login": PUBLIC,
    "POST /staff/login": PUBLIC,
    # The participant's private link
    "GET /manage/<token>": OWN_LINK,
    "GET /manage/<token>/confirmation": OWN_LINK,
    "POST /manage/<token>/sessions": OWN_LINK,
    "GET /manage/<token>/cancel": OWN_LINK,
    "POST /manage/<token>/cancel": OWN_LINK,
    "POST /manage/<token>/new-code": OWN_LINK,
    "GET /manage/<token>/qr.png": OWN_LINK,
    "GET /manage/<token>/qr.svg": OWN_LINK,
    "GET /manage/<token>/ticket.pdf": OWN_LINK,
    "GET /join/<token>/<int:session_id>": OWN_LINK,
    # Every staff member
    "GET /staff/": STAFF,
    "POST /staff/logout": STAFF,
    "GET /e/<slug>/checkin": STAFF,
    # The check-in API
    "POST /api/v1/checkins": SCAN_API,
    "POST /api/v1/checkins/<int:checkin_id>/annul": SCAN_API,
    "GET /api/v1/sessions/<int:session_id>/search": SCAN_API,
    "GET /api/v1/sessions/<int:session_id>/counts": SCAN_API,
    "POST /api/v1/walkins": WALK_IN_API,
    # Organisers: reports
    "GET /e/<slug>/dashboard": ORGANISER,
    "GET /e/<slug>/dashboard/data": ORGANISER,
    "GET /e/<slug>/dashboard/data/<panel>": ORGANISER,
    "GET /e/<slug>/dashboard/export/<dataset>.<fmt>": ORGANISER,
    "GET /e/<slug>/organisations": ORGANISER,
    "POST /e/<slug>/organisations/merge": ORGANISER,
    "POST /e/<slug>/organisations/merges/<int:merge_id>/undo": ORGANISER,
    # Organisers: events and sessions
    "GET /staff/events": ORGANISER,
    "GET /staff/events/new": ORGANISER,
    "POST /staff/events/new": ORGANISER,
    "GET /e/<slug>/admin/": ORGANISER,
    "POST /e/<slug>/admin/": ORGANISER,
    "POST /e/<slug>/admin/archive": ORGANISER,
    "POST /e/<slug>/admin/unarchive": ORGANISER,
    "GET /e/<slug>/admin/sessions": ORGANISER,
    "POST /e/<slug>/admin/sessions": ORGANISER,
    "GET /e/<slug>/admin/sessions/<int:session_id>": ORGANISER,
    "POST /e/<slug>/admin/sessions/<int:session_id>": ORGANISER,
    "POST /e/<slug>/admin/sessions/<int:session_id>/move": ORGANISER,
    "POST /e/<slug>/admin/sessions/<int:session_id>/registration": ORGANISER,
    "POST /e/<slug>/admin/sessions/<int:session_id>/remove": ORGANISER,
    "GET /e/<slug>/admin/devices": ORGANISER,
    "POST /e/<slug>/admin/devices": ORGANISER,
    "POST /e/<slug>/admin/devices/<int:device_id>/revoke": ORGANISER,
    "GET /e/<slug>/admin/audit": ORGANISER,
    # Organisers: participants, badges, import
    "GET /e/<slug>/admin/participants": ORGANISER,
    "GET /e/<slug>/admin/participants/<int:participant_id>": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>/sessions": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>/promote": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>/cancel": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>/resend": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>/new-code": ORGANISER,
    "GET /e/<slug>/admin/participants/<int:participant_id>/export.json": ORGANISER,
    "GET /e/<slug>/admin/participants/<int:participant_id>/erase": ORGANISER,
    "POST /e/<slug>/admin/participants/<int:participant_id>/erase": ORGANISER,
    "POST /e/<slug>/admin/badges.pdf": ORGANISER,
    "GET /e/<slug>/admin/import": ORGANISER,
    "POST /e/<slug>/admin/import": ORGANISER,
    "GET /e/<slug>/admin/import/template.csv": ORGANISER,
    "GET /e/<slug>/admin/import/<int:job_id>": ORGANISER,
    "POST /e/<slug>/admin/import/<int:job_id>/start": ORGANISER,
    "POST /e/<slug>/admin/import/<int:job_id>/batch": ORGANISER,
    # Administrators: staff accounts and the whole audit log
    "GET /staff/users": ADMIN,
    "GET /staff/users/new": ADMIN,
    "POST /staff/users/new": ADMIN,
    "GET /staff/users/<int:staff_id>": ADMIN,
    "POST /staff/users/<int:staff_id>": ADMIN,
    "POST /staff/users/<int:staff_id>/password": ADMIN,
    "POST /staff/users/<int:staff_id>/disable": ADMIN,
    "POST /staff/users/<int:staff_id>/enable": ADMIN,
    "GET /staff/audit": ADMIN,
}

#: The GETs that write, and the tables they may write to: opening a personal join link
#: records online attendance (a log entry, and the participant's mask that counts it);
#: downloading a participant's data is noted in the audit log.
#: Neither changes any registration, code or setting.
WRITES_ON_GET = {
    "GET /join/<token>/<int:session_id>": {"checkins", "participants"},
    "GET /e/<slug>/admin/participants/<int:participant_id>/export.json": {"audit_log"},
}

#: Arguments that are the same whatever the event.
FIXED_ARGS = {"filename": "css/app.css", "dataset": "participants", "fmt": "csv", "panel": "totals"}

NOW = datetime.now(UTC).replace(microsecond=0)
PASSWORD_HASH = generate_password_hash("not used: sessions are made directly")


def routes(app) -> dict[str, object]:
    """ "METHOD rule" -> rule, for every rule and method (HEAD and OPTIONS are Flask's)."""
    return {
        f"{method} {rule.rule}": rule
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    }


# --------------------------------------------------------------------------- the world


@dataclass
class EventIds:
    """The ids in one event that URLs and API bodies need."""

    slug: str
    session_id: int = 0
    participant_id: int = 0
    manage_token: str = ""
    join_token: str = ""
    code: str = ""
    checkin_id: int = 0
    merge_id: int = 0
    device_id: int = 0
    device_token: str = ""
    job_id: int = 0


@dataclass
class World:
    """Two events ("forum", where the scanner, organiser and device work, and "other"), a
    participant with a check-in in each, and the staff."""

    events: dict[str, EventIds] = field(default_factory=dict)
    staff: dict[str, int] = field(default_factory=dict)


def _event(slug: str) -> Event:
    event = Event(
        slug=slug,
        name=f"{slug.title()} 2026",
        timezone="Asia/Baku",
        venue="Baku",
        registration_opens_at=NOW - timedelta(days=1),
        registration_closes_at=NOW + timedelta(days=10),
    )
    for position, start in enumerate((NOW - timedelta(minutes=10), NOW + timedelta(days=1))):
        event.sessions.append(
            EventSession(
                title=f"Session {position + 1}",
                kind="panel",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                room="Hall A",
                capacity=50,
                position=position,
                stream_url="https://stream.example.org/live",
            )
        )
    db.session.add(event)
    db.session.commit()
    return event


def _fill(event: Event, ids: EventIds, organisation: str) -> None:
    session = event.sessions[0]
    ids.session_id = session.id
    details = ParticipantDetails(
        full_name=f"Participant of {event.slug}",
        email=f"someone@{event.slug}.example.org",
        country="AZ",
        organisation=organisation,
        job_title="",
        category="delegate",
    )
    person = register(event, details, [session.id])
    ids.participant_id, ids.manage_token = person.id, person.manage_token
    ids.join_token, ids.code = person.join_token, person.active_code.code
    ids.checkin_id = record_scan(Scan(Door.of(session), participant_id=person.id)).checkin_id
    device, ids.device_token = DeviceToken.issue(event, f"Door of {event.slug}")
    db.session.add(device)
    db.session.commit()
    ids.device_id = device.id
    ids.merge_id = merge(event, organisation, [f"The {organisation}"]).id
    job = ImportJob(event_id=event.id, filename="invitees.csv")
    db.session.add(job)
    db.session.commit()
    ids.job_id = job.id


def build_world() -> World:
    world = World()
    forum, other = _event("forum"), _event("other")
    for event, organisation in ((forum, "ASAN Service"), (other, "UNDP")):
        world.events[event.slug] = ids = EventIds(event.slug)
        _fill(event, ids, organisation)
    for role, events in (
        (Role.SCANNER, [forum]),
        (Role.ORGANISER, [forum]),
        (Role.ADMIN, []),
        (Role.ORGANISER, [other]),  # a colleague: the account the staff pages act on
    ):
        staff = StaffUser(
            email=f"{role}{len(world.staff)}@example.org",
            name=f"{role.title()} {len(world.staff)}",
            role=role,
            password_hash=PASSWORD_HASH,
            events=events,
        )
        db.session.add(staff)
        db.session.commit()
        world.staff[str(role) if len(world.staff) < 3 else "colleague"] = staff.id
    return world


# --------------------------------------------------------------------------- requests


@dataclass
class Visit:
    route: str
    role: str
    event: str = "forum"  #: whose slug and session ids go into the URL and body
    objects: str | None = None  #: whose object ids (participant, session ...) do, if not event's

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]


def _args(world: World, visit: Visit, rule) -> dict:
    url_event, object_event = world.events[visit.event], world.events[visit.objects or visit.event]
    values = {}
    for name in rule.arguments:
        if name in FIXED_ARGS:
            values[name] = FIXED_ARGS[name]
        elif name == "slug":
            values[name] = url_event.slug
        elif name == "token":
            real = visit.role == "participant"
            kind = "join_token" if rule.rule.startswith("/join/") else "manage_token"
            values[name] = getattr(object_event, kind) if real else secrets.token_urlsafe(32)
        elif name == "staff_id":
            values[name] = world.staff["colleague"]
        elif hasattr(object_event, name):
            values[name] = getattr(object_event, name)
        else:
            pytest.fail(
                f"{visit.route}: the access test has no sample value for <{name}>. Add an id "
                f"for it to EventIds and set it in _fill() in tests/test_access_routes.py."
            )
    return values


def _body(world: World, visit: Visit) -> dict | None:
    ids = world.events[visit.objects or visit.event]
    if visit.route == "POST /api/v1/checkins":
        return {"session_id": ids.session_id, "code": ids.code, "gate": "North"}
    if visit.route == "POST /api/v1/walkins":
        return {"session_id": ids.session_id, "participant_id": ids.participant_id, "gate": "N"}
    if visit.route.startswith("POST /api/"):
        return {}
    return None


def client_for(app, world: World, role: str):
    client = app.test_client()
    if role in world.staff:
        # What signing in leaves in the session cookie (without hashing a password each time).
        with app.app_context():
            user_id = db.session.get(StaffUser, world.staff[role]).get_id()
        with client.session_transaction() as session:
            session["_user_id"] = user_id
            session["_fresh"] = True
            session["seen_at"] = int(time.time())
    return client


def outcome(response) -> str:
    status = response.status_code
    if status in (301, 302, 303):
        # Sent to sign in, and back here afterwards (signing out also ends on the sign-in page,
        # without a way back).
        target = urlsplit(response.location)
        if target.path == "/staff/login" and "next=" in target.query:
            return LOGIN
    if status == 401:
        return LOGIN
    if status == 403:
        return FORBIDDEN
    if status == 404:
        return NOT_FOUND
    if status >= 500 and status != 501:  # 501: a page still being built
        return f"error {status}"
    return OK


def request(app, world: World, visit: Visit):
    rule = routes(app)[visit.route]
    path = rule.build(_args(world, visit, rule), append_unknown=False)[1]
    path = re.sub(r"^[^/]*", "", path)  # build() prefixes the host part when one is set
    kwargs = {"method": visit.method}
    if visit.role == "device":
        kwargs["headers"] = {"Authorization": f"Bearer {world.events['forum'].device_token}"}
    if (body := _body(world, visit)) is not None:
        kwargs["json"] = body
    elif visit.method != "GET":
        kwargs["data"] = {}
    return client_for(app, world, visit.role).open(path, **kwargs)


class Walk:
    """Makes visits in one world, and puts the world back as it was after a visit changed it."""

    def __init__(self, app):
        self.app = app
        db.session.remove()
        wipe(app)
        self.world = build_world()
        self.rows = snapshot()

    def _restore(self) -> None:
        """Every row as it was built (faster than building again; the ids stay the same)."""
        db.session.remove()
        tables = db.metadata.sorted_tables
        with db.engine.begin() as connection:
            for table in reversed(tables):
                connection.execute(table.delete())
            for table in tables:
                if rows := self.rows[table.name]:
                    names = table.columns.keys()
                    connection.execute(
                        table.insert(), [dict(zip(names, r, strict=True)) for r in rows]
                    )

    def visit(self, visit: Visit) -> tuple[str, set[str], int]:
        """What the visit came to, the tables it changed, and the status code."""
        response = request(self.app, self.world, visit)
        after = snapshot()
        changed = {table for table, rows in after.items() if rows != self.rows[table]}
        if changed:
            self._restore()
        return outcome(response), changed, response.status_code


@pytest.fixture
def walk(app):
    return Walk(app)


def _expected(route: str, role: str) -> str:
    return getattr(ACCESS[route], role)


# --------------------------------------------------------------------------- tests


def test_every_route_is_classified(app):
    present = routes(app)
    missing = sorted(set(present) - set(ACCESS))
    assert not missing, (
        "These routes have no row in ACCESS (tests/test_access_routes.py): add one for each, "
        "saying what anonymous visitors, participants, scanners, organisers, admins and devices "
        f"get: {missing}"
    )
    gone = sorted(set(ACCESS) - set(present))
    assert not gone, f"ACCESS lists routes the application no longer has: {gone}"


def test_get_routes_answer_every_role_as_classified_and_change_nothing(app, walk):
    wrong, writes = [], []
    for route in sorted(r for r in routes(app) if r.startswith("GET ")):
        for role in ROLES:
            got, changed, _ = walk.visit(Visit(route, role))
            if got != _expected(route, role):
                wrong.append(f"{route} as {role}: {got}, expected {_expected(route, role)}")
            if changed and not (got == OK and changed <= WRITES_ON_GET.get(route, set())):
                writes.append(f"{route} as {role} changed {sorted(changed)}")
    assert wrong == []
    assert writes == [], "GET requests must not change the database"


def test_other_routes_answer_every_role_as_classified_and_refusals_change_nothing(app, walk):
    wrong, writes = [], []
    for route in sorted(r for r in routes(app) if not r.startswith("GET ")):
        for role in ROLES:
            got, changed, _ = walk.visit(Visit(route, role))
            if got != _expected(route, role):
                wrong.append(f"{route} as {role}: {got}, expected {_expected(route, role)}")
            if changed and got != OK:
                writes.append(f"{route} as {role}: {got}, changed {sorted(changed)}")
    assert wrong == []
    assert writes == [], "a refused request must change nothing"


#: API routes that name their session in the JSON body rather than the URL.
SESSION_IN_BODY = {"POST /api/v1/checkins", "POST /api/v1/walkins"}


def _event_routes(app) -> list[str]:
    """Staff routes that act on one event: its slug, a session or a check-in of it in the URL,
    or a session in the API body."""
    return sorted(
        route
        for route, rule in routes(app).items()
        if ACCESS[route].anonymous == LOGIN
        and ({"slug", "session_id", "checkin_id"} & set(rule.arguments) or route in SESSION_IN_BODY)
    )


def test_staff_and_devices_of_one_event_are_refused_on_another_events_routes(app, walk):
    """The scanner, the organiser and the device work on "forum" only: on every route where
    they may act for "forum", acting for "other" is refused and changes nothing."""
    checked, wrong = 0, []
    for route in _event_routes(app):
        for role in ("scanner", "organiser", "device"):
            if _expected(route, role) != OK:
                continue
            checked += 1
            got, changed, _ = walk.visit(Visit(route, role, event="other"))
            if got != FORBIDDEN or changed:
                wrong.append(f"{route} as {role} of another event: {got}, changed {changed}")
    assert checked > 40
    assert wrong == []


def test_objects_of_another_event_are_not_found_under_an_event_one_may_use(app, walk):
    """The admin may use both events, so only the check that the object belongs to the event
    in the URL keeps "other"'s participants and sessions out of "forum"'s pages."""
    checked, wrong = 0, []
    for route, rule in routes(app).items():
        objects = set(rule.arguments) - {"slug", "token", "staff_id", *FIXED_ARGS}
        if "slug" not in rule.arguments or not objects or ACCESS[route].admin != OK:
            continue
        checked += 1
        visit = Visit(route, "admin", event="forum", objects="other")
        got, changed, status = walk.visit(visit)
        # A form may also refuse with a message on the page it redirects to.
        refused = got == NOT_FOUND or (visit.method == "POST" and status in (302, 303))
        if not refused or changed:
            wrong.append(f"{route} with {sorted(objects)} of another event: {got}, {changed}")
    assert checked > 10
    assert wrong == []
