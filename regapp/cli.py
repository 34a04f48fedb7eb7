"""``flask`` commands."""

import click
from flask import Flask
from sqlalchemy import func, select

from .demo import load_demo
from .extensions import db
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
