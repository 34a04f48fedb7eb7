"""``flask`` commands."""

import click
from flask import Flask
from sqlalchemy import func, select

from .demo import load_demo
from .extensions import db
from .mail import outbox
from .models import Event


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
