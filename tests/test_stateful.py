"""Many people at once: registering, changing their sessions, cancelling, getting a new code, and
being scanned at the door (and the scan undone), in any order Hypothesis can think of, against
small sessions that fill up. After every step the database must agree with a simple model:

- no session has more confirmed seats than its capacity;
- the waitlist is first come, first served: a freed seat goes to the one waiting longest;
- a person is checked in at most once per session, and an undo makes them not checked in;
- each person has exactly one active code, and an old code is refused as revoked.

Everything goes through HTTP (the registration form, the manage page, the check-in API), the way
participants and doors use it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from regapp.checkin.services import effective_checkins
from regapp.extensions import db
from regapp.models import (
    AccessCode,
    CheckIn,
    CodeStatus,
    DeviceToken,
    Participant,
    Registration,
    RegistrationStatus,
    Verdict,
)
from tests.conftest import registration_form, wipe
from tests.dbstate import broken_invariants, snapshot

NOW = datetime.now(UTC).replace(microsecond=0)
CAPACITIES = (1, 2, None)  # two small sessions and an unlimited one, all running now
PEOPLE = 5


class Person:
    def __init__(self, token: str, code: str):
        self.token, self.code = token, code
        self.old_codes: list[str] = []


class RegistrationDesk(RuleBasedStateMachine):
    """One event per run, on emptied tables; ``seated`` and ``waiting`` model its sessions."""

    def __init__(self, app, server, make_event):
        super().__init__()
        db.session.rollback()  # end this session's reads: the tables are about to be emptied
        wipe(app)  # each run starts from nothing, so that runs cannot disturb one another
        self.event = make_event(
            *(
                {
                    "title": f"Session {i}",
                    "capacity": capacity,
                    "starts_at": NOW - timedelta(minutes=10),
                    "ends_at": NOW + timedelta(hours=3),
                }
                for i, capacity in enumerate(CAPACITIES)
            ),
            slug="journeys",
        )
        self.sessions = [s.id for s in self.event.sessions]
        self.capacity = dict(zip(self.sessions, CAPACITIES, strict=True))
        device, token = DeviceToken.issue(self.event, "Door")
        db.session.add(device)
        db.session.commit()
        self.visitor = server.test_client()
        self.door = server.test_client()
        self.door.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

        self.people: dict[int, Person] = {}
        self.seated: dict[int, set[int]] = {s: set() for s in self.sessions}
        self.waiting: dict[int, list[int]] = {s: [] for s in self.sessions}
        self.ever: dict[int, set[int]] = {s: set() for s in self.sessions}  # has a row there
        self.checked_in: dict[tuple[int, int], int] = {}  # (person, session) -> check-in id
        self.undone: list[int] = []

    # -- the model ----------------------------------------------------------------------------

    def join(self, who: int, session: int) -> None:
        self.ever[session].add(who)
        capacity = self.capacity[session]
        if capacity is None or len(self.seated[session]) < capacity:
            self.seated[session].add(who)
        else:
            self.waiting[session].append(who)

    def leave(self, who: int, session: int) -> None:
        if who in self.waiting[session]:
            self.waiting[session].remove(who)
        self.seated[session].discard(who)

    def promote(self, session: int) -> None:
        capacity = self.capacity[session]
        while self.waiting[session] and (capacity is None or len(self.seated[session]) < capacity):
            self.seated[session].add(self.waiting[session].pop(0))

    def holds(self, who: int) -> set[int]:
        return {s for s in self.sessions if who in self.seated[s] or who in self.waiting[s]}

    def expected_verdict(self, who: int, session: int, old_code: bool) -> str:
        if old_code:
            return Verdict.REVOKED_CODE
        if who not in self.ever[session]:
            return Verdict.NOT_REGISTERED
        if who in self.waiting[session]:
            return Verdict.WAITLISTED
        if who not in self.seated[session]:
            return Verdict.CANCELLED
        if (who, session) in self.checked_in:
            return Verdict.ALREADY_CHECKED_IN
        return Verdict.OK

    # -- what people and doors do ---------------------------------------------------------------

    def email(self, who: int) -> str:
        return f"person{who}@{self.event.slug}.example.org"

    @rule(
        who=st.integers(0, PEOPLE - 1),
        chosen=st.lists(st.integers(0, len(CAPACITIES) - 1), min_size=1, unique=True),
    )
    def register(self, who, chosen):
        sessions = [self.sessions[i] for i in chosen]
        before = snapshot() if who in self.people else None
        data = registration_form(self.event, sessions, email=self.email(who))
        response = self.visitor.post(f"/e/{self.event.slug}/register", data=data)
        if before is not None:  # the same email again: refused, nothing saved
            assert response.status_code == 422
            assert "already registered" in response.text
            assert snapshot() == before
            return
        assert response.status_code == 303, response.text
        token = response.location.split("/manage/")[1].split("/")[0]
        self.people[who] = Person(token, self.active_code(token))
        for session in sorted(sessions):
            self.join(who, session)

    @precondition(lambda self: self.people)
    @rule(data=st.data(), chosen=st.lists(st.integers(0, len(CAPACITIES) - 1), unique=True))
    def change_sessions(self, data, chosen):
        who = data.draw(st.sampled_from(sorted(self.people)), label="who")
        wanted = {self.sessions[i] for i in chosen}
        before = snapshot() if not wanted else None
        response = self.visitor.post(
            f"/manage/{self.people[who].token}/sessions", data={"sessions": sorted(wanted)}
        )
        if before is not None:  # nothing chosen: refused, nothing changed
            assert response.status_code == 422
            assert snapshot() == before
            return
        assert response.status_code == 303, response.text
        held = self.holds(who)
        for session in held - wanted:
            self.leave(who, session)
        for session in sorted(wanted - held):
            self.join(who, session)
        for session in held - wanted:
            self.promote(session)

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def cancel(self, data):
        who = data.draw(st.sampled_from(sorted(self.people)), label="who")
        response = self.visitor.post(f"/manage/{self.people[who].token}/cancel")
        assert response.status_code == 303
        held = self.holds(who)
        for session in held:
            self.leave(who, session)
        for session in held:
            self.promote(session)

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def new_code(self, data):
        who = data.draw(st.sampled_from(sorted(self.people)), label="who")
        person = self.people[who]
        assert self.visitor.post(f"/manage/{person.token}/new-code").status_code == 303
        person.old_codes.append(person.code)
        person.code = self.active_code(person.token)
        assert person.code not in person.old_codes

    @precondition(lambda self: self.people)
    @rule(data=st.data(), where=st.integers(0, len(CAPACITIES) - 1), old=st.booleans())
    def scan(self, data, where, old):
        who = data.draw(st.sampled_from(sorted(self.people)), label="who")
        person, session = self.people[who], self.sessions[where]
        old = old and bool(person.old_codes)
        code = data.draw(st.sampled_from(person.old_codes)) if old else person.code
        response = self.door.post(
            "/api/v1/checkins", json={"code": code, "session_id": session, "gate": "Door"}
        )
        assert response.status_code == 200, response.text
        answer = response.get_json()
        assert answer["status"] == self.expected_verdict(who, session, old), answer
        if answer["status"] == Verdict.OK:
            self.checked_in[(who, session)] = answer["checkin_id"]

    @precondition(lambda self: self.checked_in or self.undone)
    @rule(data=st.data())
    def undo(self, data):
        entries = sorted(self.checked_in.items(), key=lambda item: item[1])
        choices = [checkin_id for _, checkin_id in entries] + self.undone
        checkin_id = data.draw(st.sampled_from(choices), label="check-in")
        before = snapshot() if checkin_id in self.undone else None
        response = self.door.post(f"/api/v1/checkins/{checkin_id}/annul", json={})
        if before is not None:  # undone already: refused, nothing recorded
            assert response.status_code == 422
            assert response.get_json()["code"] == "invalid"
            assert snapshot() == before
            return
        assert response.status_code == 200, response.text
        (key,) = [key for key, value in self.checked_in.items() if value == checkin_id]
        del self.checked_in[key]
        self.undone.append(checkin_id)

    # -- what must hold after every step ---------------------------------------------------------

    def active_code(self, token: str) -> str:
        db.session.rollback()
        return db.session.scalar(
            select(AccessCode.code)
            .join(Participant)
            .where(Participant.manage_token == token, AccessCode.status == CodeStatus.ACTIVE)
        )

    def person_ids(self) -> dict[int, int]:
        """Participant id -> the model's number for them."""
        by_email = {self.email(who): who for who in self.people}
        rows = db.session.execute(
            select(Participant.id, Participant.email).where(Participant.event_id == self.event.id)
        )
        return {pid: by_email[email] for pid, email in rows}

    @invariant()
    def database_agrees_with_the_model(self):
        db.session.rollback()
        assert broken_invariants(db.session) == []
        who = self.person_ids()
        for session in self.sessions:
            rows = db.session.execute(
                select(Registration.participant_id, Registration.status)
                .where(Registration.session_id == session)
                .order_by(Registration.queued_at, Registration.id)
            ).all()
            seated = {who[p] for p, status in rows if status == RegistrationStatus.CONFIRMED}
            waiting = [who[p] for p, status in rows if status == RegistrationStatus.WAITLISTED]
            assert seated == self.seated[session], f"session {session}"
            assert waiting == self.waiting[session], f"waitlist order of session {session}"

        present = effective_checkins().where(CheckIn.session_id.in_(self.sessions)).subquery()
        checked_in = {
            (who[p], s): c
            for c, p, s in db.session.execute(
                select(present.c.id, present.c.participant_id, present.c.session_id)
            )
        }
        assert checked_in == self.checked_in

        codes = db.session.execute(
            select(Participant.id, AccessCode.code)
            .join(AccessCode)
            .where(Participant.event_id == self.event.id, AccessCode.status == CodeStatus.ACTIVE)
        ).all()
        assert {who[p]: code for p, code in codes} == {
            n: person.code for n, person in self.people.items()
        }


def test_registrations_changes_cancellations_and_scans_keep_every_invariant(
    app, make_app, make_event
):
    server = make_app()  # requests get their own app context, as in a real server
    run_state_machine_as_test(
        lambda: RegistrationDesk(app, server, make_event),
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
