"""Reading a bash session's terminal stream: where the echoed command ends, where the prompt is, and the
text a person would read in between.

Pure functions over bytes; the session that writes and reads the socket is in ``shell.py``.

The stream of one command typed into ``bash --login`` with a TTY (bash >= 5.1, bracketed paste on) is:
the echo of the command (readline redisplay, wrapped at the terminal width, possibly redrawing the prompt),
``ESC[?2004l`` when readline accepts the line, the command's output, then ``ESC[?2004h`` and the next
prompt. So the output is what lies between the first ``ESC[?2004l`` and the prompt after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE_ACCEPTED = b"\x1b[?2004l"  # readline leaves bracketed-paste mode: the echo is over
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"

# A standard Debian/Ubuntu prompt (`user@host:dir# `, optionally after an xterm title), the original's
# detection; used when a new shell (`su - jack`, `bash`, `source ~/.bashrc`) replaced our marked prompt.
STANDARD_PROMPT = re.compile(rb"\x1b\[\?2004h(?:\x1b\][^\x07]*\x07)?[\w.-]+@[\w.-]+:[^\r\n]*[#$] \Z")

_TERMINAL_CONTROL = re.compile(
    r"""
      \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?   # OSC (window title), ended by BEL or ST
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?        # DCS, SOS, PM, APC strings
    | \x1b\[[0-?]*[ -/]*[@-~]              # CSI: colours, cursor moves, bracketed paste on/off
    | \x1b[()*+][0-9A-Za-z]                # character set selection
    | \x1b[@-Z\\-_=>78]                    # other two-character escapes
    | [\x07\x00]                           # BEL, NUL
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class PromptMatch:
    start: int  # where the prompt (including its ESC[?2004h) begins in the buffer
    end: int
    ours: bool  # our marked prompt, or a standard one (a new shell that does not have our marker yet)


def paste(command: str) -> bytes:
    """The bytes that type ``command`` as one bracketed paste and press Enter: a multi-line script is one
    input line (one prompt afterwards), like a person pasting it into a terminal."""
    return PASTE_START + command.rstrip("\n").encode("utf-8") + PASTE_END + b"\r"


def find_prompt(buffer: bytes, marker: bytes, search_from: int) -> PromptMatch | None:
    """Our marked prompt anywhere from ``search_from`` (a background job may write after it), else a
    standard prompt at the very end of the buffer. ``search_from`` must be past the echo of the command:
    readline may redraw the prompt while echoing a long line."""
    at = buffer.find(marker, search_from)
    if at >= 0:
        start = at
        on = b"\x1b[?2004h"
        if buffer[:start].endswith(on):
            start -= len(on)
        return PromptMatch(start, at + len(marker), ours=True)
    match = STANDARD_PROMPT.search(buffer, max(search_from, len(buffer) - 4096))
    if match:
        return PromptMatch(match.start(), match.end(), ours=False)
    return None


def output_start(buffer: bytes) -> int | None:
    """Where the command's output begins: after readline accepted the line (None: not yet)."""
    at = buffer.find(LINE_ACCEPTED)
    return at + len(LINE_ACCEPTED) if at >= 0 else None


_OVERSTRUCK = re.compile(r"[^\x08\n]\x08")


def clean(raw: bytes) -> str:
    """UTF-8 text without terminal control sequences, with CRLF as LF, backspaces applied (man's bold),
    a carriage-return-overwritten line (a progress bar) reduced to its last non-empty part, and trailing
    newlines removed."""
    text = _TERMINAL_CONTROL.sub("", raw.decode("utf-8", errors="replace"))
    while "\x08" in text:
        text, count = _OVERSTRUCK.subn("", text)
        if not count:
            text = text.replace("\x08", "")
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            parts = [part for part in line.split("\r") if part]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines).rstrip("\n")
