"""Notices about conversations that the chat view keeps while the app runs.

A notice (a damaged message, a renewed session, missing messages) is not stored in the
profile, so the view keeps the newest ones of each contact in memory: closing a
conversation and opening it again shows them again. The memory is bounded in both the
notices per contact and the number of contacts, so a flood of damaged envelopes cannot
make it grow.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

MAX_NOTICES = 20
"""Notices kept per contact. The oldest is dropped first."""
MAX_CONTACTS = 50
"""Contacts whose notices are kept. The least recently used contact is dropped first."""


@dataclass(frozen=True)
class Notice:
    """One notice and the place in the conversation where it is shown."""

    after: int
    """Order number of the message the notice follows; 0 puts it above every message."""
    text: str
    """The notice in the language in use when it arrived."""


class NoticeMemory:
    """The newest notices of each contact, bounded per contact and in contacts."""

    def __init__(self, max_notices: int = MAX_NOTICES, max_contacts: int = MAX_CONTACTS) -> None:
        if max_notices < 1 or max_contacts < 1:
            raise ValueError("expected max_notices >= 1 and max_contacts >= 1")
        self.max_notices = max_notices
        self.max_contacts = max_contacts
        # Least recently used contact first, so eviction pops from the front.
        self._by_contact: OrderedDict[int, deque[Notice]] = OrderedDict()

    def add(self, contact_id: int, notice: Notice) -> None:
        """Keep a notice for a contact, dropping the oldest beyond the bounds."""
        notices = self._by_contact.get(contact_id)
        if notices is None:
            notices = deque(maxlen=self.max_notices)
            self._by_contact[contact_id] = notices
        self._by_contact.move_to_end(contact_id)
        notices.append(notice)

        while len(self._by_contact) > self.max_contacts:
            self._by_contact.popitem(last=False)

    def notices_for(self, contact_id: int | None) -> list[Notice]:
        """Return the kept notices of a contact, oldest first, and mark it recently used."""
        if contact_id is None or contact_id not in self._by_contact:
            return []
        self._by_contact.move_to_end(contact_id)
        return list(self._by_contact[contact_id])

    def contact_count(self) -> int:
        """Return how many contacts have notices kept."""
        return len(self._by_contact)
