"""JSON API for scanning devices and the scanner page: ``/api/v1``.

Every answer is JSON: 200 with a ``status`` for every verdict, 401 or 403 for who may call,
422 with ``errors`` for malformed input.
"""

from flask import Blueprint, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import countries
from ..auth.access import Actor, ApiAuthError, api_actor
from ..extensions import csrf
from ..inputs import has_control_characters, is_row_id
from ..models import Role, Verdict
from ..registration.services import RegistrationError, UnknownSession, add_walk_in
from . import services, throttle
from .services import Door, Scan, ScanResult

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # device tokens carry no CSRF token; cookie callers are checked in api_actor()


def _error(status: int, code: str, message: str, **extra):
    return jsonify({"status": "error", "code": code, "message": message, **extra}), status


@bp.errorhandler(ApiAuthError)
def _auth_error(error: ApiAuthError):
    return _error(error.status, error.code, error.message)


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    return _error(403, "csrf", "The CSRF token is missing or wrong: reload the page.")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _error(error.code, error.name.lower().replace(" ", "_"), error.description)


class Invalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors


@bp.errorhandler(Invalid)
def _invalid(error: Invalid):
    return _error(422, "invalid", "The request is not valid.", errors=error.errors)


@bp.errorhandler(services.NoSuchSession)
def _no_such_session(_error):
    return _invalid(Invalid({"session_id": "No such session."}))


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid({"body": "Send a JSON object."})
    return body


def _int(body: dict, name: str, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not is_row_id(value):
        raise Invalid({name: "Must be a whole number from 1 to 2147483647."})
    return value


def _text(body: dict, name: str, max_length: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise Invalid({name: f"Must be text of 1 to {max_length} characters."})
    if has_control_characters(value):
        raise Invalid({name: "Must not contain control characters."})
    return value.strip()


def _door_for(actor: Actor, session_id: int, role: Role = Role.SCANNER) -> Door:
    door = services.find_door(session_id)
    if door is None:
        raise Invalid({"session_id": "No such session."})
    if not actor.may_use(door.event_id, role):
        raise ApiAuthError(403, "forbidden", "Not allowed for this event.")
    return door


def _scan_json(result: ScanResult, door: Door) -> dict:
    """The answer to a scan, from the result alone (its ORM objects were expired by the commit,
    and reading them again would cost queries)."""
    person = result.person
    answer = {
        "status": result.verdict,
        "message": result.message,
        "checkin_id": result.checkin_id,
        "channel": result.channel,
        "participant": person
        and {
            "id": person.id,
            "name": person.full_name,
            "organisation": person.organisation,
            "country": person.country,
            "country_name": countries.name(person.country),
            "category": person.category,
        },
        "counts": services.session_counts(door.session_id),
    }
    if result.earlier is not None:
        answer["checked_in_at"] = result.earlier.created_at.isoformat()
        answer["checked_in_at_local"] = f"{result.earlier.created_at.astimezone(door.zone):%H:%M}"
        answer["gate"] = result.earlier.gate
    if result.verdict in (Verdict.NOT_REGISTERED, Verdict.CANCELLED):
        answer["sessions"] = [
            {"id": r.session_id, "title": r.session.title, "status": r.status} for r in result.held
        ]
    return answer


def _scan_from(body: dict, actor: Actor, role: Role = Role.SCANNER) -> Scan:
    door = _door_for(actor, _int(body, "session_id"), role)
    code = _text(body, "code", 200)
    participant_id = _int(body, "participant_id", required=False)
    if (code is None) == (participant_id is None):
        raise Invalid({"code": "Send either a code or a participant_id."})
    return Scan(
        door=door,
        code=code,
        participant_id=participant_id,
        gate=_text(body, "gate", 80) or "",
        nonce=_text(body, "nonce", 80),
        staff=actor.staff,
        device=actor.device,
    )


@bp.post("/checkins")
def create_checkin():
    actor = api_actor()
    scan = _scan_from(_body(), actor)
    if (refused := throttle.refusal(actor)) is not None:
        return refused  # too many unknown codes lately: not even looked up
    result = services.record_scan(scan)
    throttle.count(actor, scan.door.session_id, result)
    return jsonify(_scan_json(result, scan.door))


@bp.post("/checkins/<int:checkin_id>/annul")
def annul_checkin(checkin_id: int):
    actor = api_actor()
    body = request.get_json(silent=True) or {}
    entry = services.find_checkin(checkin_id)
    if entry is None:
        raise Invalid({"checkin_id": "No such check-in."})
    session_id = _door_for(actor, entry.session_id).session_id
    reason = _text(body, "reason", 500) if isinstance(body, dict) else None
    try:
        services.annul(entry, reason or "Undone at the door.", actor.staff, actor.device)
    except ValueError as error:
        raise Invalid({"checkin_id": str(error)}) from None
    return jsonify(
        {
            "status": Verdict.ANNULLED,
            "message": "Check-in undone.",
            "counts": services.session_counts(session_id),
        }
    )


@bp.post("/walkins")
def walk_in():
    """An organiser registers someone on the spot (seats permitting) and checks them in."""
    actor = api_actor()
    scan = _scan_from(_body(), actor, Role.ORGANISER)
    if scan.participant_id is None:
        raise Invalid({"participant_id": "Walk-ins need a participant_id."})
    try:
        add_walk_in(scan.participant_id, scan.door.event_id, scan.door.session_id)
    except UnknownSession:  # removed a moment ago, on another process
        raise services.NoSuchSession from None
    except RegistrationError as error:
        return _error(409, "no_seat", error.message)
    return jsonify(_scan_json(services.record_scan(scan), scan.door))


@bp.get("/sessions/<int:session_id>/search")
def search(session_id: int):
    door = _door_for(api_actor(), session_id)
    query = request.args.get("q", "").strip()
    if len(query) < 2 or len(query) > 100 or has_control_characters(query):
        raise Invalid({"q": "Type 2 to 100 characters."})
    return jsonify(
        {
            "results": [
                {
                    "participant_id": row["participant"].id,
                    "name": row["participant"].full_name,
                    "organisation": row["participant"].organisation,
                    "country_name": countries.name(row["participant"].country),
                    "registration": row["registration"],
                    "checked_in": row["checked_in"],
                }
                for row in services.search_participants(door, query)
            ]
        }
    )


@bp.get("/sessions/<int:session_id>/counts")
def counts(session_id: int):
    return jsonify(services.session_counts(_door_for(api_actor(), session_id).session_id))
