"""The SQLite sandbox's wire format (standard library only: both sides import it).

A frame is an 8-byte big-endian length and that many bytes of UTF-8 JSON. JSON, not pickle: the parent
never trusts what comes out of the child (the child runs agent SQL), and decoding JSON runs no code.
Row values are JSON values, except bytes: ``{"b": "<base64>"}``.
"""

from __future__ import annotations

import base64
import json
import os

HEADER_BYTES = 8


def encode(message: dict) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return len(body).to_bytes(HEADER_BYTES, "big") + body


def write_frame(fd: int, message: dict) -> None:
    data = memoryview(encode(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exactly(fd: int, size: int) -> bytes | None:
    """Blocking read of ``size`` bytes; None at end of file."""
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict | None:
    """The next frame (blocking); None when the other side has closed the pipe."""
    header = read_exactly(fd, HEADER_BYTES)
    if header is None:
        return None
    body = read_exactly(fd, int.from_bytes(header, "big"))
    return None if body is None else json.loads(body)


def encode_value(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def decode_value(value):
    if isinstance(value, dict):
        return base64.b64decode(value["b"])
    return value
