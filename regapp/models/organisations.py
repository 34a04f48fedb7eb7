"""Organisation names as organisers merged them: "UNDP", "U.N.D.P." and "United Nations
Development Programme" count as one in every report. Participants keep what they typed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


def organisation_key(name: str):
    """How spellings are matched: case and outer spaces aside. Works on text and on columns."""
    if isinstance(name, str):
        return name.strip().lower()
    return func.lower(func.trim(name))


class OrganisationMerge(db.Model):
    """One merge: several spellings reported under one name. Undoing it keeps the record."""

    __tablename__ = "organisation_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    #: The name reports show.
    canonical: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    aliases: Mapped[list[OrganisationAlias]] = relationship(
        back_populates="merge", cascade="all, delete-orphan"
    )

    def undo(self) -> None:
        self.undone_at = utcnow()
        self.aliases.clear()


class OrganisationAlias(db.Model):
    """A spelling (by :func:`organisation_key`) and the name it is reported under."""

    __tablename__ = "organisation_aliases"
    __table_args__ = (UniqueConstraint("event_id", "variant_key", name="uq_organisation_aliases"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merge_id: Mapped[int] = mapped_column(
        ForeignKey("organisation_merges.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    variant_key: Mapped[str] = mapped_column(String(200))
    canonical: Mapped[str] = mapped_column(String(200))

    merge: Mapped[OrganisationMerge] = relationship(back_populates="aliases")
