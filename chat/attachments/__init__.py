"""Attachments: files shared in a room, over the chat's own WebSocket.

A file travels as Socket.IO binary events (README, "Event API"): the client
declares it (``upload_start``: name, size, type, the message's
``client_message_id``), sends it in chunks that each fit in SIO_MAX_PAYLOAD
(``upload_chunk``), each acknowledged with the next offset the server expects,
so that a dropped connection resumes where it was. The last chunk makes the
message: the bytes are checked (``inspect``: the type found in them, never
the client's; images re-encoded without their metadata, thumbnailed, with a
pixel limit), kept through Django's storage API (``store``), and the message
row and its ``Attachment`` are stored once per ``client_message_id`` by
``chat.messages.store_message``.

- ``rules``: the payloads and the limits (size, types, quotas).
- ``parts``: unfinished uploads on local disk, bounded per user and expired.
- ``inspect``: what a file is, and its image work (Pillow, off the event loop).
- ``store``: from a finished part to stored files and their wire form.
- ``views``: the one way a file leaves the server, to those who may see its room.
"""
