"""Loader for LoCoMo conversations in the original AgentMemoryBench format.

A file (``data/locomo/locomo<N>.json``) is a JSON list with one conversation object:
``sample_id``, ``conversation`` (``speaker_a``, ``speaker_b``, ``session_<n>``, ``session_<n>_date_time``)
and ``qa`` (``question``, ``answer``, ``evidence``, ``category``, ``where``, ``where_ground_truth``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_amb.tasks import DataError

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
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    objects = data if isinstance(data, list) else [data]
    return [_conversation(obj, path, i) for i, obj in enumerate(objects)]


def _require(obj: dict, key: str, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{where}: missing field '{key}'")
    return obj[key]


def _conversation(obj: dict, path: Path, position: int) -> Conversation:
    where = f"{path}[{position}]"
    conv = _require(obj, "conversation", where)
    speakers = (
        str(_require(conv, "speaker_a", f"{where}.conversation")),
        str(_require(conv, "speaker_b", f"{where}.conversation")),
    )
    sessions = []
    for key in conv:
        match = _SESSION_KEY.match(key)
        if not match:
            continue
        sid = int(match.group(1))
        turns_raw = conv[key]
        if not isinstance(turns_raw, list):
            raise DataError(f"{where}.conversation.{key}: expected a list of turns")
        turns = tuple(_turn(t, f"{where}.conversation.{key}[{i}]") for i, t in enumerate(turns_raw))
        sessions.append(Session(sid, str(conv.get(f"{key}_date_time", "")), turns))
    if not sessions:
        raise DataError(f"{where}.conversation: no session_<n> lists")
    sessions.sort(key=lambda s: s.session_id)
    last_session = sessions[-1].session_id
    qas = tuple(
        _qa(q, i, f"{where}.qa[{i}]", last_session) for i, q in enumerate(_require(obj, "qa", where))
    )
    return Conversation(
        sample_id=str(obj.get("sample_id", f"{path.stem}-{position}")),
        speakers=speakers,
        sessions=tuple(sessions),
        qas=qas,
        source=path,
    )


def _turn(raw: dict, where: str) -> Turn:
    caption = raw.get("blip_caption") or ""
    return Turn(
        speaker=str(_require(raw, "speaker", where)),
        dia_id=str(raw.get("dia_id", "")),
        text=str(_require(raw, "text", where)),
        blip_caption=str(caption),
    )


def _qa(raw: dict, index: int, where: str, last_session: int) -> QA:
    category = int(_require(raw, "category", where))
    evidence = tuple(str(e) for e in raw.get("evidence") or ())
    if "where" in raw:
        askable_after = int(raw["where"])
    else:  # plain LoCoMo without AMB's additions: the max evidence session, else the last session
        sessions = [int(m.group(1)) for e in evidence if (m := _EVIDENCE.match(e))]
        askable_after = max(sessions) if sessions else last_session
    answer = raw.get("answer", raw.get("adversarial_answer", ""))
    if category != ADVERSARIAL_CATEGORY and "answer" not in raw:
        raise DataError(f"{where}: missing field 'answer'")
    return QA(
        index=index,
        question=str(_require(raw, "question", where)),
        answer=str(answer),
        category=category,
        evidence=evidence,
        where=askable_after,
    )
