"""Importing invited participants from CSV: preview, then an idempotent import."""
