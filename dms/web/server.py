"""Running the app on waitress, with the limits waitress itself does not enforce.

waitress 3 accepts a chunked request body whose chunk-size line never ends and re-joins that
line with every packet it receives (quadratic), on the event-loop thread: one such request of a
few hundred MB freezes every connection for minutes. `GuardedChunkedReceiver` refuses a
chunk-size line or trailer longer than a real client ever sends (400 at once).
"""

from __future__ import annotations

from flask import Flask
from waitress import parser as waitress_parser
from waitress.receiver import ChunkedReceiver
from waitress.utilities import BadRequest

MAX_CONTROL_LINE = 4096  # "<hex size>[;extensions]": real clients send a few bytes
MAX_TRAILER = 65536


class GuardedChunkedReceiver(ChunkedReceiver):
    def received(self, s: bytes) -> int:
        consumed = super().received(s)
        if len(self.control_line) > MAX_CONTROL_LINE or len(self.trailer) > MAX_TRAILER:
            self.error = BadRequest("chunk size line or trailer too long")
            self.all_chunks_received = True
            self.control_line = self.trailer = b""
        return consumed


def serve(app: Flask, *, host: str, port: int, threads: int) -> None:
    from waitress import serve as waitress_serve

    waitress_parser.ChunkedReceiver = GuardedChunkedReceiver  # type: ignore[misc]
    # bodies beyond the upload limit are refused by waitress before they are spooled
    max_body = app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024
    waitress_serve(app, host=host, port=port, threads=threads, ident="kundenakte", max_request_body_size=max_body)
