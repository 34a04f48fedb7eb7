"""``flask`` commands."""

from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from .auth.services import create_staff, new_password
from .demo import load_demo
from .extensions import db
from .mail import outbox
from .models import DeviceToken, Event, Role


def register_commands(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when an event already exists.")
    def seed_demo(if_empty: bool) -> None:
        """Load the demo forum (two days, six sessions), dated two weeks from today."""
        if if_empty and db.session.scalar(select(func.count()).select_from(Event)):
            click.echo("Database already has events; demo not loaded.")
            return
        event = load_demo()
        click.echo(f"Loaded the demo event “{event.name}” at /e/{event.slug}/")
        lines = []
        for role in Role:
            password = new_password()
            staff = create_staff(
                f"{role}@demo.regapp", role, password, name=f"Demo {role}", events=[event]
            )
            lines.append(f"{staff.role:<10} {staff.email:<24} {password}")
        credentials = Path(current_app.instance_path) / "demo-staff.txt"
        credentials.write_text(
            "Demo staff accounts (role, email, password):\n" + "\n".join(lines) + "\n"
        )
        credentials.chmod(0o600)
        click.echo(f"Demo staff accounts and their passwords are in {credentials}")

    @app.cli.group("staff")
    def staff_group() -> None:
        """Staff accounts."""

    @staff_group.command("add")
    @click.argument("email")
    @click.option(
        "--role",
        type=click.Choice([r.value for r in Role]),
        default="scanner",
        show_default=True,
    )
    @click.option("--name", default="", help="Shown on screen; defaults to the email's first part.")
    @click.option(
        "--event",
        "event_slugs",
        multiple=True,
        metavar="SLUG",
        help="An event this organiser or scanner works on (repeatable); admins see every event.",
    )
    @click.option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Asked for when not given.",
    )
    def staff_add(
        email: str, role: str, name: str, event_slugs: tuple[str, ...], password: str
    ) -> None:
        """Create a staff account (or reset the role and password of an existing one)."""
        if len(password) < 10:
            raise click.BadParameter("use at least 10 characters", param_hint="--password")
        events = [_event(slug, "--event") for slug in event_slugs]
        staff = create_staff(email, Role(role), password, name, events=events)
        click.echo(f"{staff.email} can sign in as {staff.role}.")

    @app.cli.group("device")
    def device_group() -> None:
        """Device tokens for the check-in API."""

    @device_group.command("add")
    @click.argument("event_slug")
    @click.argument("name")
    def device_add(event_slug: str, name: str) -> None:
        """Create a token for a scanning device of one event; it is shown only now."""
        event = _event(event_slug, "EVENT_SLUG")
        device, token = DeviceToken.issue(event, name)
        db.session.add(device)
        db.session.commit()
        click.echo(f"Device #{device.id} “{name}” for {event.slug}. Its token (shown once):")
        click.echo(token)

    @device_group.command("revoke")
    @click.argument("device_id", type=int)
    def device_revoke(device_id: int) -> None:
        """Stop a device token from working, at once."""
        device = db.session.get(DeviceToken, device_id)
        if device is None:
            raise click.BadParameter(f"no device #{device_id}", param_hint="DEVICE_ID")
        device.revoke()
        db.session.commit()
        click.echo(f"Device #{device.id} “{device.name}” revoked.")

    @app.cli.group("outbox")
    def outbox_group() -> None:
        """The email outbox: what is waiting, sent or failed."""

    @outbox_group.command("status")
    @click.option("--limit", default=20, show_default=True, help="How many recent messages.")
    @click.option("--problems", is_flag=True, help="Only messages that failed at least once.")
    def outbox_status(limit: int, problems: bool) -> None:
        """Count messages by state and list the most recent ones."""
        counts = outbox.status_counts()
        click.echo("  ".join(f"{state}: {counts.get(state, 0)}" for state in outbox.STATES))
        for m in outbox.recent(limit, problems_only=problems):
            when = f"{m.next_attempt_at:%Y-%m-%d %H:%M}" if m.status == "pending" else ""
            click.echo(
                f"#{m.id:<6} {m.status:<8} {m.kind:<17} {m.recipient:<32} "
                f"attempts={m.attempts} {('next ' + when) if when else ''} {m.last_error[:80]}"
            )

    @outbox_group.command("deliver")
    def outbox_deliver() -> None:
        """Send every message that is due now."""
        result = outbox.deliver_due(limit=1000)
        click.echo(f"sent: {result['sent']}  failed: {result['failed']}")


def _event(slug: str, param_hint: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        raise click.BadParameter(f"no event {slug!r}", param_hint=param_hint)
    return event
