"""Organiser administration: events, sessions, staff, devices, the audit log."""

from flask import Blueprint

bp = Blueprint("admin", __name__)
