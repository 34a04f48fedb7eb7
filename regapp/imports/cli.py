"""``flask import-participants``: the browser's import, on the command line."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..models import Event
from . import services

ACTOR = "command line"


@click.command("import-participants")
@click.argument("event_slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Check the file and say what would change; save nothing."
)
@click.option(
    "--send-confirmations",
    is_flag=True,
    help="Email each new participant their confirmation, and tell those whose sessions change.",
)
@with_appcontext
def import_participants(event_slug: str, file: Path, dry_run: bool, send_confirmations: bool):
    """Import invited participants of EVENT_SLUG from a CSV FILE (columns as in the template on
    the import page: full name, email, country, organisation, job title, category, sessions
    separated by ";"). The same file imported twice changes nothing the second time."""
    event = services.event_by_slug(event_slug)
    if event is None:
        raise click.BadParameter(f"no event {event_slug!r}", param_hint="EVENT_SLUG")
    try:
        services.refuse_archived(event)
        checked = services.check_file(event, file.read_bytes())
    except services.ImportFileError as error:
        raise click.ClickException(error.message) from None
    _report_check(event, checked)
    if dry_run:
        click.echo("Dry run: nothing was saved.")
        return
    if not checked.rows:
        raise click.ClickException("No row can be imported.")
    job = services.create_job(event, checked, file.name, actor=ACTOR)
    services.start(job, send_confirmations)
    with click.progressbar(length=job.total, label="Importing", show_pos=True) as bar:
        while not job.is_finished:
            before = job.done
            services.run_batch(job)
            job = db.session.get(services.ImportJob, job.id, populate_existing=True)
            bar.update(job.done - before)
    late = job.problems[len(checked.problems) :]
    for problem in late:
        click.echo(f"line {problem['line']}: {problem['reason']}", err=True)
    summary = job.summary()
    click.echo(
        f"Imported: {summary['created']} created, {summary['updated']} updated, "
        f"{summary['unchanged']} unchanged, {summary['errors']} rows with problems skipped."
    )
    if send_confirmations and summary["created"]:
        click.echo(
            "Confirmations are in the outbox: a running server sends them, "
            "or run `flask outbox deliver`."
        )


def _report_check(event: Event, checked: services.CheckedFile) -> None:
    if checked.ignored:
        click.echo(f"Columns ignored: {', '.join(checked.ignored)}")
    for problem in checked.problems:
        click.echo(f"line {problem['line']}: {problem['reason']}", err=True)
    plan = services.plan(event, checked.rows)
    for title, asked, left in plan.crowded:
        click.echo(f"{title}: {asked} new places asked, {left} seats left; the rest waitlisted.")
    click.echo(
        f"Checked: {plan.created} to create, {plan.updated} to update, "
        f"{plan.unchanged} unchanged, {len(checked.problems)} rows with problems to skip."
    )
