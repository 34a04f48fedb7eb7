"""Organisers manage participants: list, detail, privacy export and erasure, badges."""
