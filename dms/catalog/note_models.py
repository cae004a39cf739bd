"""The SQLAlchemy model of customer notes (Kontakthistorie, issue #14), on the catalog's `Base`.

A note is something staff logged about a customer: a note, a call or a visit (who, when, what,
how long), optionally a follow-up (Wiedervorlage) with a due date and an assignee, done or not.
Its own module (like dms/identity/models.py) so that dms/catalog/models.py can import it at its
end without an import cycle; the repository is dms/catalog/notes.py.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dms.catalog.models import Base


class NoteRow(Base):
    __tablename__ = "customer_notes"
    __table_args__ = (
        Index("ix_customer_notes_customer_at", "customer_number", "at"),  # a customer's timeline
        Index("ix_customer_notes_followups", "assignee", "due"),  # the follow-ups due per user
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # note | call | visit
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when it happened
    duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
