"""The public event pages and the demo forum."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from regapp.demo import load_demo
from regapp.extensions import db
from regapp.models import Event, EventSession


def test_programme_is_grouped_by_day_in_the_event_time_zone(client, make_event):
    # 21:30 UTC on 1 March is already 2 March in Baku (UTC+4).
    make_event(
        {
            "title": "Late evening UTC",
            "starts_at": datetime(2031, 3, 1, 21, 30, tzinfo=UTC),
            "ends_at": datetime(2031, 3, 1, 22, 30, tzinfo=UTC),
        },
        {
            "title": "Morning",
            "starts_at": datetime(2031, 3, 1, 6, 0, tzinfo=UTC),
            "ends_at": datetime(2031, 3, 1, 7, 0, tzinfo=UTC),
        },
        registration_closes_at=None,
    )
    page = client.get("/e/forum/").text
    first_day, second_day = page.index("Saturday 01 March 2031"), page.index("Sunday 02 March 2031")
    assert first_day < page.index("Morning") < second_day < page.index("Late evening UTC")
    assert "10:00–11:00" in page  # 06:00 UTC shown in Baku time
    assert "01:30–02:30" in page


def test_event_page_shows_seats_left(client, make_event):
    make_event({"title": "Panel", "capacity": 150})
    assert "150 of 150 seats left" in client.get("/e/forum/").text


def test_home_lists_events(client, make_event):
    make_event(name="Global Web Forum")
    page = client.get("/").text
    assert "Global Web Forum" in page and "/e/forum/" in page


def test_privacy_notice_is_per_event(client, make_event):
    make_event(slug="custom", privacy_notice="We keep your data for 90 days.")
    make_event(slug="default")
    assert "We keep your data for 90 days." in client.get("/e/custom/privacy").text
    assert "carries no personal data" in client.get("/e/default/privacy").text


def test_unknown_event_is_a_clear_404(client):
    response = client.get("/e/nothing-here/")
    assert response.status_code == 404
    assert "There is nothing at this address" in response.text


def test_demo_forum_has_two_days_and_six_sessions(app):
    event = load_demo()
    assert event.slug == "global-web-forum"
    kinds = [s.kind for s in event.sessions]
    assert kinds == ["opening", "panel", "panel", "panel", "panel", "closing"]
    assert len({s.local_day() for s in event.sessions}) == 2
    assert event.local(event.sessions[0].starts_at).strftime("%H:%M") == "10:00"
    assert event.registration_closed_reason(datetime.now(UTC)) is None


def test_seed_demo_command_loads_once_when_asked_if_empty(app, runner):
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "Loaded the demo event" in result.output
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "already has events" in result.output
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1
    assert db.session.scalar(select(func.count()).select_from(EventSession)) == 6


def test_security_headers_on_every_page(client, make_event):
    make_event()
    response = client.get("/e/forum/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
