"""LoCoMo as a task: one conversation per task instance, one QA per episode, sessions for injection.

The episode is a single turn: system prompt and question in, one assistant answer out. The answer is
scored with the original's set-based F1, BLEU-1 and the LLM judge; the judge's label is the reward.
"""

from __future__ import annotations

import re

from pytest_amb.interfaces import EnvReply, EpisodeInfo, Judge, Message, SessionInfo, TaskIndex
from pytest_amb.metrics.answer import bleu1, token_f1
from pytest_amb.tasks import TaskContext, TaskSource
from taskcases.locomo.judge import LLMJudge
from taskcases.locomo.loader import QA, Conversation, load_conversations

SYSTEM_PROMPT = (
    "You are a helpful assistant that answers questions about a long conversation between two people. "
    "Use only the conversation history and memory you are given. Answer with a short phrase, not a "
    "full sentence. If the answer is a date, give the date."
)
_ANSWER_PREFIX = re.compile(r"^\s*(final answer|the answer is|the answer|answer)\s*[:：-]?\s*", re.IGNORECASE)


def extract_answer(content: str) -> str:
    """The stripped assistant content without a leading 'Answer:' / 'The answer:' / 'Final answer:'."""
    return _ANSWER_PREFIX.sub("", str(content or "").strip(), count=1).strip()


def task_name(source: TaskSource, conversation: Conversation) -> str:
    return source.name if not source.bundled else f"{source.name}/{conversation.sample_id}"


def load(source: TaskSource) -> list[Conversation]:
    return [c for path in source.files for c in load_conversations(path)]


def index(source: TaskSource, conversations: list[Conversation]) -> list[TaskIndex]:
    return [_index(task_name(source, c), c) for c in conversations]


def build(source: TaskSource, conversations: list[Conversation], context: TaskContext) -> list[LocomoTask]:
    judge = LLMJudge(context.service("judge_llm"))
    return [LocomoTask(task_name(source, c), c, judge) for c in conversations]


def _index(name: str, conversation: Conversation) -> TaskIndex:
    sessions = tuple(
        SessionInfo(s.session_id, s.date_time, tuple(q.sample_id for q in conversation.qas_for_session(s.session_id)))
        for s in conversation.sessions
    )
    return TaskIndex(
        name=name,
        family="locomo",
        sample_ids=tuple(q.sample_id for q in conversation.askable_qas),
        sessions=sessions,
    )


def qa_info(task: str, qa: QA) -> EpisodeInfo:
    return EpisodeInfo(task=task, sample_id=qa.sample_id, query=qa.question, meta={"kind": "qa"})


class LocomoTask:
    backend = "in-process"

    def __init__(self, name: str, conversation: Conversation, judge: Judge):
        self.name = name
        self.conversation = conversation
        self.judge = judge
        self.index = _index(name, conversation)
        self._qas = {q.sample_id: q for q in conversation.askable_qas}

    def _qa(self, sample_id: str) -> QA:
        try:
            return self._qas[sample_id]
        except KeyError:
            raise KeyError(f"{self.name}: no askable QA '{sample_id}'") from None

    def open(self, sample_id: str) -> LocomoEpisode:
        return LocomoEpisode(self.name, self._qa(sample_id), self.judge)

    def sample_info(self, sample_id: str) -> EpisodeInfo:
        return qa_info(self.name, self._qa(sample_id))

    def session_info(self, session_id: int) -> EpisodeInfo:
        session = self.conversation.session(session_id)
        return EpisodeInfo(
            task=self.name,
            sample_id=f"session-{session_id}",
            query="",
            meta={
                "kind": "session",
                "session_id": session_id,
                "date_time": session.date_time,
                "speakers": list(self.conversation.speakers),
            },
        )

    def oracle_replies(self, sample_id: str) -> list[Message]:
        return [{"role": "assistant", "content": self._qas[sample_id].answer}]

    def close(self) -> None:
        pass

    def session_messages(self, session_id: int) -> list[Message]:
        """One message per turn; the first speaker is the user and the second the assistant (by speaker,
        not by turn parity as in the original), with captions of shared photos kept."""
        first = self.conversation.speakers[0]
        return [
            {"role": "user" if turn.speaker == first else "assistant", "content": turn.render()}
            for turn in self.conversation.session(session_id).turns
        ]


class LocomoEpisode:
    max_rounds = 1

    def __init__(self, task: str, qa: QA, judge: Judge):
        self.tools: list[dict] = []
        self.qa = qa
        self.judge = judge
        self.info = qa_info(task, qa)
        self.messages: list[Message] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": qa.question},
        ]

    def step(self, assistant_message: Message) -> EnvReply:
        predicted = extract_answer(assistant_message.get("content") or "")
        gold = self.qa.answer
        metrics = {"category": self.qa.category, "question": self.qa.question, "gold": gold, "predicted": predicted}
        if not predicted:
            metrics.update(f1=0.0, bleu=0.0, judge=0.0, judge_rationale="empty answer, not judged")
            return EnvReply([], finish=True, reward=0.0, status="completed", metrics=metrics,
                            explanation=_explain(self.qa, predicted, "empty answer"))  # fmt: skip
        verdict = self.judge(self.qa.question, gold, predicted)
        metrics.update(
            f1=token_f1(predicted, gold),
            bleu=bleu1(predicted, gold),
            judge=verdict.score,
            judge_rationale=verdict.rationale,
        )
        return EnvReply([], finish=True, reward=verdict.score, status="completed", metrics=metrics,
                        explanation=_explain(self.qa, predicted, f"judge: {verdict.label}"))  # fmt: skip

    def close(self) -> None:
        pass


def _explain(qa: QA, predicted: str, verdict: str) -> str:
    return f"question: {qa.question}\ngold: {qa.answer}\npredicted: {predicted or '(empty)'}\n{verdict}"
