"""A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""

import email
import email.policy
import socket
import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for "localhost", made by the openssl command line."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return cert, key


class MailServer:
    """Start and stop at will on a fixed port, to play a mail server that goes down and up.

    With ``tls`` (a certificate and key) it offers STARTTLS, or speaks TLS from the first byte
    with ``implicit_tls``; with ``credentials`` it demands AUTH (only over TLS)."""

    def __init__(self, port=None, tls=None, implicit_tls=False, credentials=None):
        self.port = port or free_port()
        self.inbox = Inbox()
        self.tls, self.implicit_tls, self.credentials = tls, implicit_tls, credentials
        self._controller: Controller | None = None

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, self.tls))
        return context

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        options = {}
        if self.tls and self.implicit_tls:
            options["ssl_context"] = self._tls_context()
            # aiosmtpd does not see that the whole connection is TLS; AUTH is safe here.
            options["auth_require_tls"] = False
        elif self.tls:
            options["tls_context"] = self._tls_context()
            options["require_starttls"] = True
        if self.credentials:
            options.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(
            self.inbox, hostname="localhost", port=self.port, server_hostname="localhost", **options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages
