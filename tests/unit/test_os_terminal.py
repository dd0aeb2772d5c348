"""Reading a bash terminal stream (pytest_amb/containers/terminal.py), on recorded bytes from Podman; os_interaction's
output cap and image tags."""

from pytest_amb.containers import terminal
from taskcases.os_interaction import images
from taskcases.os_interaction.output import cap_output

MARKER = b"amb-0123456789abcdef$ "

# `useradd ...; su - jack` then `whoami; pwd` typed ahead, as recorded: readline redraws the prompt while
# echoing a long pasted line, so our marker appears inside the echo, before the line is accepted.
REDRAWN_ECHO = (
    b"\x1b[7museradd -m -s /bin/bash jack; su - jack\x1b[27m\ramb-0123456789abcdef$ useradd -m -s /bin/bash jack"
    b"; su - jack\r\n\x1b[?2004l\r\x1b[?2004h\x1b]0;jack@6709328698a8: ~\x07jack@6709328698a8:~$ "
)


def test_the_marker_in_a_redrawn_echo_is_not_the_prompt():
    start = terminal.output_start(REDRAWN_ECHO)
    prompt = terminal.find_prompt(REDRAWN_ECHO, MARKER, start)
    assert prompt is not None and not prompt.ours, "the standard prompt of the new shell (su - jack)"
    assert terminal.clean(REDRAWN_ECHO[start : prompt.start]) == ""


def test_output_lies_between_the_accepted_line_and_the_prompt():
    stream = b"\x1b[7mecho $X; pwd\x1b[27m\x08\x08echo $X; pwd\r\n\x1b[?2004l\r5\r\n/tmp\r\n\x1b[?2004h" + MARKER
    start = terminal.output_start(stream)
    prompt = terminal.find_prompt(stream, MARKER, start)
    assert prompt.ours and stream[prompt.start :] == b"\x1b[?2004h" + MARKER
    assert terminal.clean(stream[start : prompt.start]) == "5\n/tmp"
    assert terminal.output_start(b"\x1b[7mecho not accepted yet") is None


def test_a_standard_prompt_counts_only_at_the_end():
    assert terminal.find_prompt(b"\x1b[?2004l\rroot@box:/# \r\nmore", MARKER, 0) is None
    assert terminal.find_prompt(b"\x1b[?2004l\r\x1b[?2004hroot@box:/usr/lib# ", MARKER, 0) is not None


def test_clean_removes_terminal_control_and_applies_overwrites():
    raw = (
        b"\x1b]0;title\x07\x1b[01;34mdir\x1b[0m caf\xc3\xa9 \xff\r\n"
        b"10%\r50%\r100%\r\n"
        b"N\x08NA\x08AM\x08ME\x08E\x07\r\n\r\n"
    )
    assert terminal.clean(raw) == "dir caf\u00e9 \ufffd\n100%\nNAME"


def test_paste_wraps_the_command_once():
    assert terminal.paste("a\nb\n") == b"\x1b[200~a\nb\x1b[201~\r"


def test_cap_output_keeps_800_and_cuts_to_780():
    assert cap_output("a" * 800) == "a" * 800
    assert cap_output("a" * 900) == "a" * 780 + "\n[truncated because the output is too long]"


def test_image_tags_follow_content_and_base(tmp_path):
    folder = tmp_path / "default"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM x\n")
    first = images.image_tag("default", folder, None)
    assert first.startswith("localhost/amb-os-default:") and len(first.rsplit(":", 1)[1]) == 12
    assert images.image_tag("default", folder, None) == first
    assert images.image_tag("default", folder, "localhost/amb-base:bookworm") != first
    (folder / "Dockerfile").write_text("FROM y\n")
    assert images.image_tag("default", folder, None) != first
