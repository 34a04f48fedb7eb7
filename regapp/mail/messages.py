"""What each email says: rendered from the participant's current registration when it is sent."""

from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template, url_for

from ..models import MessageKind, OutboxMessage, Participant
from ..tickets.pdf import ticket_pdf
from ..tickets.qr import qr_png

SUBJECTS = {
    MessageKind.CONFIRMATION: "Your registration for {event}",
    MessageKind.SESSIONS_CHANGED: "Your sessions have changed: {event}",
    MessageKind.CANCELLED: "Your registration is cancelled: {event}",
    MessageKind.PROMOTED: "A seat is yours: {session} ({event})",
    MessageKind.NEW_CODE: "Your new access code: {event}",
    MessageKind.MANAGE_LINK: "Your private link: {event}",
}


def build_message(row: OutboxMessage, participant: Participant) -> EmailMessage:
    """A multipart message: plain text and HTML with the QR inline, and the PDF ticket attached
    while the participant holds sessions."""
    event = participant.event
    registrations = sorted(
        (r for r in participant.registrations if r.is_active),
        key=lambda r: (r.session.starts_at, r.session.position),
    )
    code = participant.active_code if registrations else None
    qr_cid = make_msgid(domain="regapp")
    context = {
        "kind": row.kind,
        "participant": participant,
        "event": event,
        "registrations": registrations,
        "code": code,
        "session_title": row.session_title,
        "manage_url": url_for(
            "registration.manage", token=participant.manage_token, _external=True
        ),
        "qr_cid": qr_cid[1:-1],
    }
    message = EmailMessage()
    message["Subject"] = SUBJECTS[row.kind].format(event=event.name, session=row.session_title)
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = row.recipient
    message["Message-ID"] = make_msgid(domain="regapp")
    message.set_content(render_template("email/message.txt", **context))
    message.add_alternative(render_template("email/message.html", **context), subtype="html")
    if code:
        html = message.get_payload()[1]
        html.add_related(qr_png(code.code), "image", "png", cid=qr_cid, filename="access-code.png")
        message.add_attachment(
            ticket_pdf(participant, "a4"),
            maintype="application",
            subtype="pdf",
            filename=f"ticket-{event.slug}.pdf",
        )
    return message
