"""The chat's events as a Channels consumer, the way the Channels tutorial writes
a chat: one group per room, group_send for broadcasts, the ORM through
database_sync_to_async. d09's own rules are reused (chat.messages for validation,
storage and history; chat.backends.memory.InMemoryPresence for the user list).

Wire protocol (plain WebSocket, JSON, compact separators):
  server -> client  {"type":"history","messages":[...]}, {"type":"joined","user":..},
                    {"type":"users","users":[...]}, {"type":"left","user":..},
                    {"type":"message", id, room, user, text, created},
                    {"type":"ack","ack":n,"ok":true,"id":..} / {"type":"error",..}
  client -> server  {"type":"message","text":"...","ack":n}
"""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chat import messages
from chat.backends.memory import InMemoryPresence
from chat.connection import Member
from chat.models import Room
from chat.payloads import Refused

presence = InMemoryPresence()


@database_sync_to_async
def find_room(slug):
    return Room.objects.filter(slug=slug).first()


@database_sync_to_async
def history(room):
    return messages.history(room.id, room.slug)[0]


@database_sync_to_async
def store(member, text):
    return messages.store_message(member, text)[0]


class ChatConsumer(AsyncJsonWebsocketConsumer):
    member = None

    @classmethod
    async def encode_json(cls, content):
        return json.dumps(content, separators=(",", ":"))

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close()
            return
        room = await find_room(self.scope["url_route"]["kwargs"]["room"])
        if room is None:
            await self.close()
            return
        self.member = Member(user.pk, user.get_username(), room.id, room.slug, room.name)
        self.group = f"chat_{room.slug}"
        backlog = await history(room)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "history", "messages": backlog})
        change = presence.join(self.channel_name, room.slug, self.member.username)
        joined = {"type": "joined", "user": self.member.username}
        users = {"type": "users", "users": presence.users(room.slug)}
        if change.changed:
            await self.channel_layer.group_send(self.group, {"type": "chat.event", "event": joined})
            await self.channel_layer.group_send(self.group, {"type": "chat.event", "event": users})
        else:
            await self.send_json(joined)
            await self.send_json(users)

    async def disconnect(self, code):
        if self.member is None:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        change = presence.leave(self.channel_name)
        if change is not None and change.changed:
            left = {"type": "left", "user": change.user}
            users = {"type": "users", "users": presence.users(change.room)}
            await self.channel_layer.group_send(self.group, {"type": "chat.event", "event": left})
            await self.channel_layer.group_send(self.group, {"type": "chat.event", "event": users})

    async def receive_json(self, content, **kwargs):
        ack = content.get("ack") if isinstance(content, dict) else None
        if not isinstance(content, dict) or content.get("type") != "message":
            await self.send_json({"type": "ack", "ack": ack, "ok": False, "error": "Unknown."})
            return
        try:
            text = messages.clean_text({"text": content.get("text")})
        except Refused as rejection:
            await self.send_json({"type": "ack", "ack": ack, "ok": False, "error": str(rejection)})
            return
        stored = await store(self.member, text)
        await self.channel_layer.group_send(
            self.group, {"type": "chat.event", "event": {"type": "message", **stored}}
        )
        await self.send_json({"type": "ack", "ack": ack, "ok": True, "id": stored["id"]})

    async def chat_event(self, event):
        await self.send_json(event["event"])
