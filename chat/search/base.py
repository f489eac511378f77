"""What every search backend gives: ``find(query, room_ids, author_ids, offset,
limit) -> [Hit]``, the hits best first and newest first among equals, each
with the message's text with its matched words between MARK_START and MARK_END
(chat.search.highlight turns them into safe pieces)."""

from dataclasses import dataclass

MARK_START, MARK_END = "\x02", "\x03"  # never in a message (control characters are dropped)


@dataclass(frozen=True)
class Hit:
    message_id: int
    marked_text: str
