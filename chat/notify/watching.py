"""Which rooms each user has on screen: pages report ``visibility`` over the
socket, and a push goes out only when no connection of the user shows the room
in a visible tab, on any worker.

One process: a dict. With Redis: a hash per user, ``d09:watching:<user id>``,
field ``<process id> <sid>`` -> room slug; an entry of a process that stopped
heartbeating (chat.backends.redis: ``alive:<process>``) does not count, so a
killed worker does not silence pushes for ever.
"""

KEEP = 24 * 3600  # seconds: a user's hash outlives no deployment by more


class LocalWatching:
    def __init__(self):
        self._shown = {}  # sid -> (user_id, slug)

    def show(self, sid, user_id, slug):
        self._shown[sid] = (user_id, slug)

    def hide(self, sid):
        self._shown.pop(sid, None)

    def showing(self, user_id, slug):
        return (user_id, slug) in set(self._shown.values())


class RedisWatching:
    def __init__(self, presence, prefix="d09:watching:"):
        self.presence = presence  # chat.backends.redis.RedisPresence
        self.redis = presence.redis
        self.prefix = prefix
        self._users = {}  # sid -> user_id of this process's visible pages

    def _field(self, sid):
        return f"{self.presence.process_id} {sid}"

    def show(self, sid, user_id, slug):
        key = f"{self.prefix}{user_id}"
        pipe = self.redis.pipeline()
        pipe.hset(key, self._field(sid), slug)
        pipe.expire(key, KEEP)
        pipe.execute()
        self._users[sid] = user_id

    def hide(self, sid):
        user_id = self._users.pop(sid, None)
        if user_id is not None:
            self.redis.hdel(f"{self.prefix}{user_id}", self._field(sid))

    def showing(self, user_id, slug):
        entries = self.redis.hgetall(f"{self.prefix}{user_id}")
        processes = {
            field.decode().split(" ", 1)[0]
            for field, shown in entries.items()
            if shown.decode() == slug
        }
        return any(self._alive(process) for process in processes)

    def _alive(self, process_id):
        if process_id == self.presence.process_id:
            return True
        return bool(self.redis.exists(self.presence._alive_key(process_id)))


def create(presence):
    return RedisWatching(presence) if hasattr(presence, "redis") else LocalWatching()
