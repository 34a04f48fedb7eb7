"""Attendance reports: the numbers an organiser reports to partners, by session, country and
organisation, from the check-in log, with merged organisation spellings."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select

from regapp.auth.services import create_staff
from regapp.checkin.services import Door, Scan, annul, record_scan
from regapp.extensions import db
from regapp.models import Channel, CheckIn, Participant, Role
from regapp.models.participants import CHECK_IN_MASK
from regapp.participants.services import update_details
from regapp.registration.services import ParticipantDetails, cancel_participation, register
from regapp.reports import merges, services
from regapp.reports.services import ReportFilter

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def forum(app, make_event):
    event = make_event(
        {
            "title": "Opening",
            "starts_at": NOW - timedelta(minutes=30),
            "ends_at": NOW + timedelta(hours=1),
            "capacity": 10,
        },
        {
            "title": "Panel",
            "starts_at": NOW - timedelta(minutes=20),
            "ends_at": NOW + timedelta(hours=2),
            "capacity": 1,
        },
    )
    opening, panel = event.sessions
    people = {}
    for email, country, org, sessions in [
        ("a@x.org", "KZ", "UNDP", [opening, panel]),
        ("b@x.org", "KZ", "U.N.D.P.", [opening, panel]),  # waitlisted for the panel
        ("c@x.org", "AZ", "ASAN Service", [opening]),
        ("d@x.org", "AZ", "asan service ", [opening]),
        ("e@x.org", "MA", "", [opening]),
    ]:
        people[email[0]] = register(
            event,
            ParticipantDetails(email.upper(), email, country, org, "", "delegate"),
            [s.id for s in sessions],
        )
    checkin = lambda who, session, channel=Channel.IN_PERSON: record_scan(  # noqa: E731
        Scan(Door.of(session), participant_id=people[who].id, channel=channel)
    )
    checkin("a", opening)
    checkin("a", opening)  # a second scan: still one person
    checkin("b", opening, Channel.ONLINE)
    checkin("c", opening)
    mistake = checkin("d", opening)
    annul(mistake.entry, "wrong person", None)
    checkin("a", panel)
    return event


def test_totals_count_unique_people_and_tell_channels_apart(forum):
    totals = services.totals(forum, ReportFilter())
    assert totals == {
        "registered": 5,
        "checked_in": 3,
        "in_person": 2,
        "online": 1,
        "attendance_rate": 0.6,
        "countries": 3,
        "organisations": 5,  # before merging: UNDP, U.N.D.P., ASAN Service, asan service, none
    }


def test_per_session_capacity_confirmed_waitlisted_checked_in_and_no_shows(forum):
    opening, panel = services.sessions_table(forum, ReportFilter())
    assert (opening["capacity"], opening["confirmed"], opening["waitlisted"]) == (10, 5, 0)
    assert (opening["checked_in"], opening["in_person"], opening["online"]) == (3, 2, 1)
    assert opening["no_shows"] == 2 and opening["attendance_rate"] == 0.6
    assert (panel["confirmed"], panel["waitlisted"], panel["checked_in"]) == (1, 1, 1)


def test_by_country_with_names_and_rates(forum):
    rows = {r["key"]: r for r in services.breakdown(forum, ReportFilter(), "country")["rows"]}
    assert rows["KZ"]["name"] == "Kazakhstan"
    assert (rows["KZ"]["registered"], rows["KZ"]["checked_in"]) == (2, 2)
    assert (rows["AZ"]["registered"], rows["AZ"]["checked_in"]) == (2, 1)
    assert rows["MA"]["attendance_rate"] == 0.0


def test_merged_spellings_count_as_one_organisation_and_the_merge_can_be_undone(forum):
    suggested = {
        g["canonical"]: {s.name for s in g["spellings"]} for g in merges.suggestions(forum)
    }
    assert {"ASAN Service", "asan service"} in suggested.values()
    assert any({"UNDP", "U.N.D.P."} <= names for names in suggested.values())

    merged = merges.merge(forum, "United Nations Development Programme", ["UNDP", "U.N.D.P."])
    merges.merge(forum, "ASAN Service", ["asan service", "ASAN Service"])
    rows = {r["name"]: r for r in services.breakdown(forum, ReportFilter(), "organisation")["rows"]}
    assert rows["United Nations Development Programme"]["registered"] == 2
    assert rows["ASAN Service"]["registered"] == 2
    assert rows["(no organisation)"]["registered"] == 1
    assert services.totals(forum, ReportFilter())["organisations"] == 3
    only = ReportFilter(organisation="United Nations Development Programme")
    assert services.totals(forum, only)["registered"] == 2

    merges.undo(forum, merged.id)
    names = {r["name"] for r in services.breakdown(forum, ReportFilter(), "organisation")["rows"]}
    assert {"UNDP", "U.N.D.P."} <= names
    with pytest.raises(merges.MergeError):
        merges.undo(forum, merged.id)
    with pytest.raises(merges.MergeError):
        merges.merge(forum, "Alone", ["Alone"])


def test_filters_apply_to_every_panel(forum):
    panel = forum.sessions[1]
    by_session = ReportFilter(session_id=panel.id)
    assert services.totals(forum, by_session)["registered"] == 1  # b waits: no seat, not counted
    assert services.totals(forum, by_session)["checked_in"] == 1
    # Someone from Türkiye only waits for the panel: no seat, so neither country nor
    # organisation counts for it.
    register(forum, ParticipantDetails("F", "f@x.org", "TR", "TİKA", "", "delegate"), [panel.id])
    assert services.totals(forum, by_session)["countries"] == 1
    assert services.totals(forum, by_session)["organisations"] == 1
    assert [r["title"] for r in services.sessions_table(forum, by_session)] == ["Panel"]
    kz = ReportFilter(country="KZ")
    assert services.totals(forum, kz)["registered"] == 2
    assert services.matrix(forum, kz, "country")["rows"][0]["cells"][str(panel.id)] == {
        "registered": 1,
        "checked_in": 1,
    }
    next_week = ReportFilter(day=(NOW + timedelta(days=7)).date())
    assert services.totals(forum, next_week)["registered"] == 0


def test_filter_from_query_args_ignores_nonsense(forum):
    f = ReportFilter.from_args(
        forum, {"day": "not-a-day", "session": "999999", "category": "vip", "country": "kz"}
    )
    assert f == ReportFilter(country="KZ")


def test_arrivals_per_five_minutes(forum):
    slots = services.arrivals(forum, ReportFilter())
    assert sum(s["in_person"] for s in slots) == 3  # a, c, and a at the panel
    assert sum(s["online"] for s in slots) == 1
    assert all(s["label"] for s in slots)


def arrivals_plans(*calls) -> list[str]:
    """SQLite's plan of each arrivals count that ``calls`` run."""
    statements = []

    def record(conn, cursor, statement, parameters, *args):
        if "count(checkins.participant_id)" in statement:
            statements.append((statement, parameters))

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        for call in calls:
            call()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    connection = db.session.connection()
    return [
        " / ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))
        for s, p in statements
    ]


def test_arrivals_on_sqlite_read_their_index_in_order_without_sorting(forum):
    """The minute is written as in the index of migration 0011 (constants, not parameters):
    SQLite then reads each session's entries already grouped instead of sorting them all."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL groups by hashing; the index is SQLite's")
    plans = arrivals_plans(
        lambda: services.arrivals(forum, ReportFilter()),
        lambda: services.live_arrivals(forum, ReportFilter()),  # counts up to the newest entry
    )
    assert len(plans) == 2
    for plan in plans:
        assert "ix_checkins_ok_minute" in plan and "TEMP B-TREE" not in plan, plan


def test_arrivals_of_a_filters_people_on_sqlite_read_an_index_alone(app, make_event):
    """A filter naming people (a country), in a programme of six sessions like the
    benchmark's: SQLite reads those people first, then each one's entries from
    ``ix_checkins_ok_participant``, which holds their times (migration 0012), without fetching
    the log's rows. (With fewer sessions it reads the minute index, which covers them too.)"""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan read is SQLite's")
    event = make_event(*[{}] * 6)
    (plan,) = arrivals_plans(lambda: services.arrivals(event, ReportFilter(country="KZ")))
    assert "SEARCH checkins USING COVERING INDEX ix_checkins_ok_participant" in plan, plan


def test_arrivals_leave_out_check_ins_that_were_undone(app, make_event):
    event = make_event({"starts_at": NOW - timedelta(minutes=10)})
    details = ParticipantDetails("Lone", "lone@x.org", "KZ", "", "", "delegate")
    person = register(event, details, [event.sessions[0].id])
    scan = record_scan(Scan(Door.of(event.sessions[0]), participant_id=person.id))
    assert [s["in_person"] for s in services.arrivals(event, ReportFilter())] == [1]

    annul(scan.entry, "wrong person", None)

    assert services.arrivals(event, ReportFilter()) == []


def test_live_arrivals_add_newer_entries_and_count_again_when_the_filters_people_change(forum):
    """The live arrivals keep what they counted and read only the log's newer entries: a new
    check-in is added, the undo of one counted before is taken away, and a change to who is
    in the filter (an organiser's correction, which is audited) has the log counted again."""
    opening, panel = forum.sessions
    people = {p.email[0]: p for p in db.session.scalars(select(Participant))}
    kazakhs = ReportFilter(country="KZ")

    def in_hall(f: ReportFilter) -> int:
        live = services.live_arrivals(forum, f)
        assert live == services.arrivals(forum, f)
        return sum(slot["in_person"] for slot in live)

    assert (in_hall(ReportFilter()), in_hall(kazakhs)) == (3, 2)  # counted: a twice, c
    late = record_scan(Scan(Door.of(opening), participant_id=people["e"].id))
    record_scan(Scan(Door.of(panel), participant_id=people["b"].id))  # waitlisted: refused
    assert (in_hall(ReportFilter()), in_hall(kazakhs)) == (4, 2)
    first = db.session.scalar(
        select(CheckIn).where(CheckIn.participant_id == people["a"].id, CheckIn.verdict == "ok")
    )
    annul(first, "wrong session", None)  # counted before the newer entries
    annul(late.entry, "wrong person", None)  # one of the newer entries
    assert (in_hall(ReportFilter()), in_hall(kazakhs)) == (2, 1)
    c = people["c"]
    details = ParticipantDetails(c.full_name, c.email, "KZ", c.organisation, "", "delegate")
    update_details(c, details)
    assert in_hall(kazakhs) == 2


def test_dashboard_data_is_for_organisers_only(client, forum):
    assert client.get(f"/e/{forum.slug}/dashboard/data").status_code == 302
    create_staff("door@example.org", Role.SCANNER, "scanner password", events=[forum])
    client.post("/staff/login", data={"email": "door@example.org", "password": "scanner password"})
    assert client.get(f"/e/{forum.slug}/dashboard/data").status_code == 403
    client.post("/staff/logout")
    create_staff("org@example.org", Role.ORGANISER, "organiser password", events=[forum])
    client.post("/staff/login", data={"email": "org@example.org", "password": "organiser password"})
    data = client.get(f"/e/{forum.slug}/dashboard/data?country=AZ").get_json()
    assert data["totals"]["registered"] == 2 and data["totals"]["checked_in"] == 1


def test_organisation_merge_pages(client, forum):
    create_staff("org@example.org", Role.ORGANISER, "organiser password", events=[forum])
    client.post("/staff/login", data={"email": "org@example.org", "password": "organiser password"})
    page = client.get(f"/e/{forum.slug}/organisations").text
    assert "Suggested merges" in page and "U.N.D.P." in page
    response = client.post(
        f"/e/{forum.slug}/organisations/merge",
        data={"canonical": "UNDP", "variants": ["UNDP", "U.N.D.P."]},
        follow_redirects=True,
    )
    assert "2 spellings now count as “UNDP”" in response.text
    response = client.post(
        f"/e/{forum.slug}/organisations/merge",
        data={"canonical": "", "variants": ["UNDP"]},
        follow_redirects=True,
    )
    assert "Give the name to report them under" in response.text


def sign_in_organiser(client, event) -> None:
    create_staff("org@example.org", Role.ORGANISER, "organiser password", events=[event])
    response = client.post(
        "/staff/login", data={"email": "org@example.org", "password": "organiser password"}
    )
    assert response.status_code == 303


def counting_statements(client, url: str) -> int:
    """How many statements counting people (GROUP BY) answering ``url`` runs."""
    seen = []

    def record(_connection, _cursor, statement, *_):
        if "GROUP BY" in statement:
            seen.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    return len(seen)


def test_each_panel_has_its_own_live_endpoint(client, forum):
    sign_in_organiser(client, forum)
    everything = client.get(f"/e/{forum.slug}/dashboard/data?country=KZ").get_json()
    for name in services.PANELS:
        answer = client.get(f"/e/{forum.slug}/dashboard/data/{name}?country=KZ").get_json()
        assert answer["panel"] == name and answer["as_of"] and answer["as_of_label"]
        assert answer["data"] == everything[name]
    assert client.get(f"/e/{forum.slug}/dashboard/data/nothing").status_code == 404


def test_the_live_dashboard_sends_the_top_organisations_and_says_how_many(client, forum):
    sign_in_organiser(client, forum)
    original = services.TOP_ORGANISATIONS
    services.TOP_ORGANISATIONS = 2
    services.forget_answers()  # counted with the usual top before
    try:
        data = client.get(f"/e/{forum.slug}/dashboard/data/organisations").get_json()["data"]
        grid = client.get(f"/e/{forum.slug}/dashboard/data/organisation-matrix").get_json()
    finally:
        services.TOP_ORGANISATIONS = original
    assert data["count"] == 5 and len(data["rows"]) == 2  # the exports have all five
    assert [r["name"] for r in data["rows"]] == ["(no organisation)", "ASAN Service"]  # 1 each
    assert grid["data"]["count"] == 5 and len(grid["data"]["rows"]) == 2


def test_kept_answers_give_way_to_every_change_at_once(client, forum):
    """The dashboard keeps each panel's answer while nothing changes (an organiser's screen
    polls every 10 seconds), and counts again as soon as anything it counts has changed: a scan,
    an undo, a registration change, an organiser's change to a participant, an organisation
    merge and its undo, each show in the very next answer."""
    sign_in_organiser(client, forum)
    opening, panel = forum.sessions
    base = f"/e/{forum.slug}/dashboard/data"

    def live(name: str):
        response = client.get(f"{base}/{name}")
        assert response.status_code == 200
        return response.get_json()["data"]

    assert live("totals")["checked_in"] == 3
    assert counting_statements(client, f"{base}/totals") == 0  # kept: nothing changed
    assert counting_statements(client, f"{base}/totals?country=KZ") > 0  # another filter

    emma = db.session.scalar(select(Participant).where(Participant.email == "e@x.org"))
    scan = record_scan(Scan(Door.of(opening), participant_id=emma.id))
    assert live("totals")["checked_in"] == 4  # a scan
    assert live("sessions")[0]["checked_in"] == 4
    annul(scan.entry, "wrong person", None)
    assert live("totals")["checked_in"] == 3  # an undo

    assert live("totals")["registered"] == 5
    cancel_participation(emma)
    assert live("totals")["registered"] == 4  # a registration change
    assert {r["key"] for r in live("countries")["rows"]} == {"KZ", "AZ"}

    chen = db.session.scalar(select(Participant).where(Participant.email == "c@x.org"))
    update_details(chen, ParticipantDetails("C", "c@x.org", "CN", "ASAN Service", "", "media"))
    assert {r["key"] for r in live("countries")["rows"]} == {"KZ", "AZ", "CN"}  # a new country

    assert live("totals")["organisations"] == 4  # UNDP, U.N.D.P., ASAN Service, asan service
    done = merges.merge(forum, "ASAN Service", ["asan service"])
    assert live("totals")["organisations"] == 3  # a merge
    assert live("organisations")["rows"][0] == {
        "key": "ASAN Service",
        "name": "ASAN Service",
        "registered": 2,
        "checked_in": 1,
        "attendance_rate": 0.5,
    }
    merges.undo(forum, done.id)
    assert live("totals")["organisations"] == 4  # and its undo


def test_a_check_in_undone_then_made_again_counts_once(forum):
    opening = forum.sessions[0]
    amina = db.session.scalar(select(Participant).where(Participant.email == "a@x.org"))
    first = db.session.scalar(
        select(CheckIn).where(
            CheckIn.participant_id == amina.id,
            CheckIn.session_id == opening.id,
            CheckIn.verdict == "ok",
        )
    )
    annul(first, "scanned too early", None)
    everyone = ReportFilter()
    assert services.totals(forum, everyone)["checked_in"] == 3  # still at the panel
    assert services.sessions_table(forum, everyone)[0]["checked_in"] == 2
    again = record_scan(Scan(Door.of(opening), participant_id=amina.id))
    assert again.verdict == "ok"
    assert services.sessions_table(forum, everyone)[0]["checked_in"] == 3
    assert services.totals(forum, everyone)["in_person"] == 2  # a and c, once each
    assert sum(s["in_person"] for s in services.arrivals(forum, everyone)) == 3
    kz = {r["key"]: r for r in services.breakdown(forum, everyone, "country")["rows"]}["KZ"]
    assert kz["checked_in"] == 2
    grid = services.matrix(forum, ReportFilter(country="KZ"), "country")["rows"][0]["cells"]
    assert grid[str(opening.id)] == {"registered": 2, "checked_in": 2}


def test_a_scan_committed_after_a_later_one_shows_at_once(client, forum):
    """Two doors scan at once: the entry given the lower id commits last. Its figures show as
    soon as it commits, although the newest id was already seen."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: ids commit in the order they are given")
    sign_in_organiser(client, forum)
    opening = forum.sessions[0]
    emma, dana = (
        db.session.scalar(select(Participant.id).where(Participant.email == email))
        for email in ("e@x.org", "d@x.org")
    )

    def checked_in() -> int:
        return client.get(f"/e/{forum.slug}/dashboard/data/totals").get_json()["data"]["checked_in"]

    def scan(connection, participant_id):  # as record_scan writes one: the entry, the mask
        connection.execute(
            insert(CheckIn).values(
                session_id=opening.id, participant_id=participant_id, verdict="ok"
            )
        )
        mark = {"pid": participant_id, "keep": -1, "set_in_person": opening.mask}
        connection.execute(CHECK_IN_MASK["in_person"], mark)

    def arrived() -> int:
        slots = client.get(f"/e/{forum.slug}/dashboard/data/arrivals").get_json()["data"]
        return sum(slot["in_person"] for slot in slots)

    assert checked_in() == 3
    with db.engine.connect() as slow, db.engine.connect() as fast:
        scan(slow, emma)  # the lower id, not committed yet
        scan(fast, dana)
        fast.commit()
        assert checked_in() == 4
        assert arrived() == 4  # counted up to the newest entry, without the one not committed
        slow.commit()
    assert checked_in() == 5
    assert arrived() == 5
