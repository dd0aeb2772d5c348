"""Loader for LoCoMo conversations in the original AgentMemoryBench format.

A file (``data/locomo/locomo<N>.json``) is a JSON list with one conversation object:
``sample_id``, ``conversation`` (``speaker_a``, ``speaker_b``, ``session_<n>``, ``session_<n>_date_time``)
and ``qa`` (``question``, ``answer``, ``evidence``, ``category``, ``where``, ``where_ground_truth``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pytest_amb.tasks import DataError
from taskcases import datafile

ADVERSARIAL_CATEGORY = 5  # excluded from the benchmark, as in the original ("following mem0")
_SESSION_KEY = re.compile(r"^session_(\d+)$")
_EVIDENCE = re.compile(r"^D(\d+):(\d+)$")


@dataclass(frozen=True)
class Turn:
    speaker: str
    dia_id: str
    text: str
    blip_caption: str = ""

    def render(self) -> str:
        caption = f" [shares a photo: {self.blip_caption}]" if self.blip_caption else ""
        return f"{self.speaker}: {self.text}{caption}"


@dataclass(frozen=True)
class Session:
    session_id: int
    date_time: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class QA:
    index: int  # position in the file's qa list (the original's sample index)
    question: str
    answer: str
    category: int
    evidence: tuple[str, ...]
    where: int  # the session after which the question is askable

    @property
    def sample_id(self) -> str:
        return f"qa-{self.index}"


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    qas: tuple[QA, ...]  # all QAs, category 5 included
    source: Path

    @property
    def askable_qas(self) -> tuple[QA, ...]:
        return tuple(q for q in self.qas if q.category != ADVERSARIAL_CATEGORY)

    def session(self, session_id: int) -> Session:
        for session in self.sessions:
            if session.session_id == session_id:
                return session
        raise KeyError(f"{self.source.name}: no session_{session_id}")

    def qas_for_session(self, session_id: int) -> tuple[QA, ...]:
        """The askable QAs whose ``where`` is this session, in file order (the original's
        ``get_qa_indices_for_session``)."""
        return tuple(q for q in self.askable_qas if q.where == session_id)


def load_conversations(path: Path) -> list[Conversation]:
    """The conversations of one file. Every field the benchmark uses is checked: a DataError names the
    file, the conversation, the field and what is wrong."""
    path = Path(path)
    data = datafile.read_json(path)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of conversation objects, got {datafile.shown(data)}")
    if not data:
        raise datafile.no_samples(path, "an empty list")
    conversations = [_conversation(obj, path, i) for i, obj in enumerate(data)]
    seen: dict[str, int] = {}
    for i, conversation in enumerate(conversations):
        first = seen.setdefault(conversation.sample_id, i)
        if first != i:
            raise DataError(f"{path}[{i}].sample_id: '{conversation.sample_id}' is also the id of {path}[{first}]")
    if not any(c.askable_qas for c in conversations):
        raise datafile.no_samples(path, f"no question outside category {ADVERSARIAL_CATEGORY}, which is not asked")
    return conversations


def _conversation(obj, path: Path, position: int) -> Conversation:
    where = f"{path}[{position}]"
    datafile.need_object(obj, where, "a conversation object")
    conv = datafile.get(obj, "conversation", where, datafile.OBJECT)
    at = f"{where}.conversation"
    speakers = (
        datafile.get(conv, "speaker_a", at, datafile.TEXT, nonempty=True),
        datafile.get(conv, "speaker_b", at, datafile.TEXT, nonempty=True),
    )
    sessions = []
    for key in conv:
        match = _SESSION_KEY.match(key)
        if not match:
            continue
        turns_raw = datafile.get(conv, key, at, datafile.LIST, hint="a session is a list of turns")
        turns = tuple(_turn(t, f"{at}.{key}[{i}]", speakers) for i, t in enumerate(turns_raw))
        date_time = datafile.get(conv, f"{key}_date_time", at, datafile.TEXT, default="")
        sessions.append(Session(int(match.group(1)), date_time, turns))
    if not sessions:
        raise DataError(f"{at}: no session_<n> lists (the conversation has no sessions)")
    sessions.sort(key=lambda s: s.session_id)
    session_ids = [s.session_id for s in sessions]
    raw_qas = datafile.get(obj, "qa", where, datafile.LIST)
    qas = tuple(_qa(q, i, f"{where}.qa[{i}]", session_ids) for i, q in enumerate(raw_qas))
    sample_id = datafile.get(obj, "sample_id", where, datafile.TEXT, default=f"{path.stem}-{position}", nonempty=True)
    return Conversation(sample_id=sample_id, speakers=speakers, sessions=tuple(sessions), qas=qas, source=path)


def _turn(raw, where: str, speakers: tuple[str, str]) -> Turn:
    datafile.need_object(raw, where, "a turn object with 'speaker' and 'text'")
    speaker = datafile.get(raw, "speaker", where, datafile.TEXT, nonempty=True)
    if speaker not in speakers:
        raise DataError(
            f"{where}.speaker: '{speaker}' is neither speaker_a ('{speakers[0]}') nor speaker_b ('{speakers[1]}')"
        )
    return Turn(
        speaker=speaker,
        dia_id=datafile.get(raw, "dia_id", where, datafile.TEXT, default=""),
        text=datafile.get(raw, "text", where, datafile.TEXT),
        blip_caption=datafile.get(raw, "blip_caption", where, datafile.TEXT, default=""),
    )


def _qa(raw, index: int, where: str, session_ids: list[int]) -> QA:
    datafile.need_object(raw, where, "a question object")
    question = datafile.get(raw, "question", where, datafile.TEXT, nonempty=True)
    category = datafile.get(raw, "category", where, datafile.INTEGER)
    if not 1 <= category <= ADVERSARIAL_CATEGORY:
        raise DataError(f"{where}.category: {category} is not a LoCoMo category (1 to {ADVERSARIAL_CATEGORY})")
    evidence = tuple(
        datafile.expect(e, datafile.TEXT, f"{where}.evidence[{i}]")
        for i, e in enumerate(datafile.get(raw, "evidence", where, datafile.LIST, default=[]))
    )
    if "where" in raw:
        askable_after = datafile.get(raw, "where", where, datafile.INTEGER)
        if askable_after not in session_ids:
            raise DataError(
                f"{where}.where: {askable_after} is not a session of this conversation "
                f"(sessions {_ranges(session_ids)})"
            )
    else:  # plain LoCoMo without AMB's additions: the max evidence session, else the last session
        named = [(int(m.group(1)), e) for e in evidence if (m := _EVIDENCE.match(e))]
        for session, item in named:
            if session not in session_ids:
                raise DataError(
                    f"{where}.evidence: '{item}' names session {session}, which this conversation does not have "
                    f"(sessions {_ranges(session_ids)}); fix it or give 'where'"
                )
        askable_after = max(s for s, _ in named) if named else session_ids[-1]
    if category == ADVERSARIAL_CATEGORY:  # never asked; its answer may be missing
        answer = datafile.get(raw, "answer", where, datafile.TEXT_OR_NUMBER, default=None)
        if answer is None:
            answer = datafile.get(raw, "adversarial_answer", where, datafile.TEXT_OR_NUMBER, default="")
    else:
        answer = datafile.get(raw, "answer", where, datafile.TEXT_OR_NUMBER)
    return QA(index=index, question=question, answer=str(answer), category=category, evidence=evidence,
              where=askable_after)  # fmt: skip


def _ranges(numbers: list[int]) -> str:
    """``1-6, 9`` for [1, 2, 3, 4, 5, 6, 9]."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)
