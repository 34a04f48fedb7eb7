"""Attendance reports: the numbers an organiser reports to partners, by session, country and
organisation, from the check-in log, with merged organisation spellings."""

from datetime import UTC, datetime, timedelta

import pytest

from regapp.auth.services import create_staff
from regapp.checkin.services import Scan, annul, record_scan
from regapp.models import Channel, Role
from regapp.registration.services import ParticipantDetails, register
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
        Scan(session=session, participant_id=people[who].id, channel=channel)
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
    rows = {r["key"]: r for r in services.breakdown(forum, ReportFilter(), "country")}
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
    rows = {r["name"]: r for r in services.breakdown(forum, ReportFilter(), "organisation")}
    assert rows["United Nations Development Programme"]["registered"] == 2
    assert rows["ASAN Service"]["registered"] == 2
    assert rows["(no organisation)"]["registered"] == 1
    assert services.totals(forum, ReportFilter())["organisations"] == 3
    only = ReportFilter(organisation="United Nations Development Programme")
    assert services.totals(forum, only)["registered"] == 2

    merges.undo(forum, merged.id)
    names = {r["name"] for r in services.breakdown(forum, ReportFilter(), "organisation")}
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
