"""``flask`` commands."""

from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from . import backup
from .admin import services as admin
from .auth.services import create_staff, new_password
from .database import begin_write
from .demo import load_demo
from .extensions import db
from .imports.cli import ACTOR, import_participants
from .mail import outbox
from .models import Event, Role
from .models.types import utcnow


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
        device, token = admin.create_device(event, name, actor=ACTOR)
        click.echo(f"Device #{device.id} “{name}” for {event.slug}. Its token (shown once):")
        click.echo(token)

    @device_group.command("revoke")
    @click.argument("device_id", type=int)
    def device_revoke(device_id: int) -> None:
        """Stop a device token from working, at once."""
        device = admin.revoke_device(None, device_id, actor=ACTOR)
        if device is None:
            raise click.BadParameter(f"no device #{device_id}", param_hint="DEVICE_ID")
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

    app.cli.add_command(import_participants)

    @app.cli.command("purge-expired")
    def purge_expired_command() -> None:
        """Erase the personal data of every participant of the events whose retention period
        (days after their last session ended) has passed. Safe to run again, e.g. daily."""
        from .participants.services import purge_expired

        results = purge_expired()
        for r in results:
            if r.due_at is None:
                click.echo(f"{r.event.slug}: no sessions, so no end to count the retention from.")
            elif r.erased:
                click.echo(
                    f"{r.event.slug}: erased {r.erased} participant{'s' if r.erased != 1 else ''} "
                    f"(retention {r.event.retention_days} days after {r.ended_at:%Y-%m-%d}; "
                    f"due {r.due_at:%Y-%m-%d})."
                )
            elif r.due_at <= utcnow():
                click.echo(f"{r.event.slug}: nothing left to erase (due {r.due_at:%Y-%m-%d}).")
            else:
                click.echo(f"{r.event.slug}: keeps personal data until {r.due_at:%Y-%m-%d}.")
        total = sum(r.erased for r in results)
        click.echo(
            f"Erased {total} participant{'s' if total != 1 else ''} in all; "
            f"{len(results)} event{'s' if len(results) != 1 else ''} with a retention period."
        )

    @app.cli.command("recount-attendance")
    def recount_attendance() -> None:
        """Work out every participant's attendance masks (what the dashboard counts) and every
        session's seats taken again from the registrations and the check-in log: after
        changing either straight in the database. Changes made through regapp keep them as
        they go."""
        from .registration.services import recount_seats_taken
        from .reports.services import recount_masks

        begin_write()
        changed = recount_masks()
        sessions = recount_seats_taken()
        db.session.commit()
        click.echo(f"{changed} participant{'s' if changed != 1 else ''} corrected.")
        click.echo(f"Seats taken corrected in {sessions} session{'s' if sessions != 1 else ''}.")

    @app.cli.command("backup")
    @click.argument("dest", required=False, type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(dest: Path | None) -> None:
        """A consistent copy of the live database into DEST.

        SQLite: the online backup API, while the app keeps serving (default
        instance/backups/regapp-<UTC time>.sqlite3). PostgreSQL: pg_dump in its custom format,
        for pg_restore (default instance/backups/regapp-<UTC time>.dump)."""
        url = db.engine.url
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        folder = Path(current_app.instance_path) / "backups"
        try:
            if url.get_backend_name() == "sqlite":
                dest = dest or folder / f"regapp-{stamp}.sqlite3"
                backup.backup_sqlite(Path(url.database), dest)
            else:
                dest = dest or folder / f"regapp-{stamp}.dump"
                backup.backup_postgresql(url, dest)
        except backup.BackupError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Backup written to {dest} ({dest.stat().st_size / 1e6:.1f} MB).")


def _event(slug: str, param_hint: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        raise click.BadParameter(f"no event {slug!r}", param_hint=param_hint)
    return event
