"""Organiser administration: events, sessions, staff, devices, the audit log."""
