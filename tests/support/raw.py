"""A raw Engine.IO v4 / Socket.IO v5 WebSocket, for frames no polite client sends."""

import json
import socket

import websocket


class RawSocket:
    def __init__(
        self,
        base_url,
        cookie="",
        origin=None,
        timeout=10,
        headers=None,
        receive_buffer=None,
        query="",
    ):
        url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        url += query
        self.ws = websocket.create_connection(
            url,
            cookie=cookie or None,
            origin=origin,
            timeout=timeout,
            suppress_origin=not origin,
            header=[f"{name}: {value}" for name, value in (headers or {}).items()],
            # Set before connecting, so that the window the server sees is small:
            # a client that stops reading then holds little in its kernel.
            sockopt=(
                [(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)] if receive_buffer else []
            ),
        )
        opening = self.ws.recv()
        assert opening.startswith("0"), opening
        self.handshake = json.loads(opening[1:])

    def send(self, frame):
        self.ws.send(frame)

    def recv(self):
        """The next frame that is not a ping (pings are answered)."""
        while True:
            frame = self.ws.recv()
            if frame == "2":
                self.ws.send("3")
                continue
            return frame

    def connect_namespace(self, auth):
        self.send("40" + json.dumps(auth))
        frames = []
        while True:
            frame = self.recv()
            frames.append(frame)
            if frame.startswith("40") or frame.startswith("44"):
                return frames

    def close(self):
        self.ws.close()
