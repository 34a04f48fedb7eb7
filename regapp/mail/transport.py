"""Handing a finished message to the world: an SMTP server, or files for development."""

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


class DeliveryError(Exception):
    """The message could not be handed over; it will be tried again later."""


def deliver(message: EmailMessage, name: str) -> str:
    """Send ``message``; returns where it went. ``name`` names the file in development."""
    config = current_app.config
    if config["MAIL_BACKEND"] == "files":
        folder = config["MAIL_OUTBOX_DIR"] or Path(current_app.instance_path) / "outbox"
        return _write_file(message, Path(folder), name)
    try:
        _send_smtp(message, config)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    return f"smtp://{config['SMTP_HOST']}:{config['SMTP_PORT']}"


def _send_smtp(message: EmailMessage, config) -> None:
    host, port, timeout = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TIMEOUT"]
    security = config["SMTP_SECURITY"]
    context = ssl.create_default_context(cafile=config["SMTP_CA_FILE"] or None)
    if security == "ssl":
        server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
    with server:
        if security == "starttls":
            server.starttls(context=context)
        if config["SMTP_USERNAME"]:
            server.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        server.send_message(message)


def _write_file(message: EmailMessage, folder: Path, name: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    path.write_bytes(bytes(message))
    return str(path)
