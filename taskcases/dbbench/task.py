"""dbbench as a task: one sample per episode, an OpenAI function-calling loop over a SQL backend.

The agent has two tools, ``execute_sql(query)`` and ``commit_final_answer(answers)`` (spec amb_tasks
§2.3). Every tool call of a reply is answered in order, so no ``tool_call_id`` is ever left without a
tool message. ``commit_final_answer`` scores the sample (§2.4) and ends it.
"""

from __future__ import annotations

import json

from pytest_amb.interfaces import EnvReply, EpisodeInfo, Message, TaskIndex
from pytest_amb.llm.oracle import tool_call_turn
from pytest_amb.redaction import redact_url
from pytest_amb.tasks import DataError, TaskContext, TaskSource
from taskcases.dbbench import scoring
from taskcases.dbbench.backends import observation as observations
from taskcases.dbbench.backends import open_backend
from taskcases.dbbench.backends.base import SqlBackend, SqlError, SqlSession, SqlTimeout
from taskcases.dbbench.loader import DbSample, load_samples

MAX_ROUNDS = 15  # configs/tasks/dbbench.yaml
OUTPUT_LIMIT = observations.OUTPUT_LIMIT  # 800
SYSTEM_PROMPT = (
    "I will ask you a question, then you should help me operate a MySQL database with SQL to answer the "
    "question. You have to explain the problem and your solution to me and write down your thoughts. "
    "After thinking and explaining thoroughly, in every round you call one of two tools. "
    "To run SQL, call execute_sql with one SQL statement on a single line; you will receive the raw MySQL "
    "response. When you are sure of the answer, call commit_final_answer with the answer values; they must "
    "match the expected answer exactly. If the question is about modifying the database, call "
    "commit_final_answer after the modification is done; the answer values can then be anything. "
    "Always use a tool; never answer in plain text. Every column of every table is TEXT."
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "execute_sql",
            "description": "Execute one single-line SQL statement on the MySQL database and return the raw result.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "the SQL statement, on one line"}},
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "commit_final_answer",
            "description": "Commit the final answer and end the task. For modification questions, commit after "
            "the modification; the values can then be anything.",
            "parameters": {
                "type": "object",
                "properties": {
                    "answers": {"type": "array", "items": {"type": "string"}, "description": "the answer values"}
                },
                "required": ["answers"],
            },
        },
    },
]
NO_TOOL_CALLS = "Internal error: No tool calls found despite finish reason. Call execute_sql or commit_final_answer."
INVALID_FUNCTION = "Invalid function call. Please call a tool instead."
TIMED_OUT = "Error: SQL execution timed out."
AFTER_COMMIT = "Not executed: the final answer was already committed."


def parse_db_url(text: str | None) -> str | None:
    """The --amb-db-url value: empty = embedded SQLite; else a MySQL/MariaDB URL (checked, never echoed whole)."""
    url = (text or "").strip() or None
    if url:
        from taskcases.dbbench.backends.mysql import parse_url

        try:
            parse_url(url)
        except ValueError as exc:
            raise ValueError(f"'{redact_url(url)}': {exc}") from None
    return url


def index(source: TaskSource, samples: list[DbSample]) -> list[TaskIndex]:
    return [TaskIndex(name=source.name, family="dbbench", sample_ids=tuple(s.sample_id for s in samples))]


def build(source: TaskSource, samples: list[DbSample], context: TaskContext) -> list[DbbenchTask]:
    return [DbbenchTask(source.name, samples, open_backend(context.options["db_url"]))]


def load(source: TaskSource) -> list[DbSample]:
    samples, seen = [], {}
    for path in source.files:
        for sample in load_samples(path):
            if sample.sample_id in seen:
                raise DataError(f"{path}: sample id '{sample.sample_id}' is also used in {seen[sample.sample_id]}")
            seen[sample.sample_id] = path
            samples.append(sample)
    return samples


def observation(rows) -> str:
    """The original's tool reply: ``str`` of the row tuples, cut at 800 characters (the backends build it
    while fetching, ``SqlSession.observe``; this is the same text for rows already at hand)."""
    return observations.observation(rows, OUTPUT_LIMIT)


class DbbenchTask:
    def __init__(self, name: str, samples: list[DbSample], backend: SqlBackend):
        self.name = name
        self.sql = backend
        self.backend = backend.name
        self.samples = {s.sample_id: s for s in samples}
        self.index = TaskIndex(name=name, family="dbbench", sample_ids=tuple(s.sample_id for s in samples))

    def sample(self, sample_id: str) -> DbSample:
        try:
            return self.samples[sample_id]
        except KeyError:
            raise KeyError(f"{self.name}: no sample '{sample_id}'") from None

    def open(self, sample_id: str) -> DbbenchEpisode:
        return DbbenchEpisode(self.name, self.sample(sample_id), self.sql)

    def sample_info(self, sample_id: str) -> EpisodeInfo:
        return sample_info(self.name, self.sample(sample_id))

    def oracle_replies(self, sample_id: str) -> list[Message]:
        """The gold solution as assistant turns: the label SQL then a commit, or a commit of the label answers."""
        sample = self.sample(sample_id)
        if not sample.is_mutation:
            return [tool_call_turn(0, "commit_final_answer", {"answers": list(sample.label)})]
        turns = [tool_call_turn(i, "execute_sql", {"query": sql}) for i, sql in enumerate(sample.label)]
        return [*turns, tool_call_turn(len(turns), "commit_final_answer", {"answers": ["done"]})]

    def close(self) -> None:
        self.sql.close()


def sample_info(task: str, sample: DbSample) -> EpisodeInfo:
    return EpisodeInfo(
        task=task,
        sample_id=sample.sample_id,
        query=sample.description,
        meta={"kind": "sql", "type": sample.type, "tables": [t.name for t in sample.tables]},
    )


class DbbenchEpisode:
    max_rounds = MAX_ROUNDS
    tools = TOOLS

    def __init__(self, task: str, sample: DbSample, backend: SqlBackend):
        self.sample = sample
        self.backend = backend
        self.info = sample_info(task, sample)
        self.messages: list[Message] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": sample.user_message()},
        ]
        self.statements: list[str] = []
        self.session: SqlSession = backend.open(sample.tables)

    def step(self, assistant_message: Message) -> EnvReply:
        calls = assistant_message.get("tool_calls") or []
        if not calls:
            return EnvReply([{"role": "user", "content": NO_TOOL_CALLS}], finish=False)
        replies: list[Message] = []
        verdict: EnvReply | None = None
        for call in calls:
            function = call.get("function") or {}
            if verdict is not None:
                replies.append(_tool_reply(call, AFTER_COMMIT))
                continue
            try:
                value = _first_argument(function.get("arguments"))
            except ValueError as exc:
                replies.append(_tool_reply(call, f"Error: Failed to parse tool call arguments: {exc}"))
                continue
            name = function.get("name")
            if name == "execute_sql":
                replies.append(_tool_reply(call, self._execute(str(value))))
            elif name == "commit_final_answer":
                verdict = self._score(value)
                replies.append(_tool_reply(call, "Answer committed."))
            else:
                replies.append(_tool_reply(call, INVALID_FUNCTION))
        if verdict is None:
            return EnvReply(replies, finish=False)
        return EnvReply(replies, finish=True, reward=verdict.reward, status="completed", metrics=verdict.metrics,
                        explanation=verdict.explanation)  # fmt: skip

    def _execute(self, statement: str) -> str:
        """The agent's statement, run by the backend (SQLite: in its sandbox process), as the observation.
        A timeout, a statement killed by the sandbox, or an error is the observation; a sandbox that cannot
        be rebuilt raises (an infrastructure ERROR of the step)."""
        self.statements.append(statement)
        try:
            return self.session.observe(statement)
        except SqlTimeout:
            return TIMED_OUT
        except SqlError as exc:
            return str(exc)

    def _score(self, answers) -> EnvReply:
        sample = self.sample
        metrics = {"type": sample.type, "backend": self.backend.name, "answer": answers, "statements": self.statements}
        if sample.is_mutation:
            produced = self._hash(self.session)
            gold, gold_from = self._gold_hash()
            correct = produced == gold
            metrics.update(hash=produced, gold_hash=gold, gold_from=gold_from)
            detail = f"table hash after your statements: {produced}\ngold hash ({gold_from}): {gold}"
        else:
            correct = scoring.answers_match(answers, list(sample.label))
            metrics.update(ground_truth=list(sample.label))
            detail = f"gold: {list(sample.label)}\ncommitted: {answers}"
        metrics["is_correct"] = correct
        explanation = f"question: {sample.description}\n{detail}\nstatements: {self.statements}"
        return EnvReply([], finish=True, reward=1.0 if correct else 0.0, metrics=metrics, explanation=explanation)

    def _hash(self, session: SqlSession) -> str:
        return scoring.combine_hashes([session.table_hash(t.name, t.columns) for t in self.sample.tables])

    def _gold_hash(self) -> tuple[str, str]:
        if self.sample.answer_md5:
            return scoring.normalize_gold_hash(self.sample.answer_md5), "answer_md5"
        fresh = self.backend.open(self.sample.tables)
        try:
            for statement in self.sample.label:
                try:
                    fresh.execute(statement)
                except SqlError as exc:
                    raise DataError(
                        f"sample '{self.sample.sample_id}': its gold label SQL fails on {self.backend.name}: {exc}"
                    ) from None
            return self._hash(fresh), "label SQL"
        finally:
            fresh.close()

    def close(self) -> None:
        self.session.close()


def _first_argument(arguments) -> object:
    """The first argument's value, whatever its key (as the original)."""
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(parsed, dict) or not parsed:
        raise ValueError("expected a JSON object with one argument")
    return next(iter(parsed.values()))


def _tool_reply(call: dict, content: str) -> Message:
    return {"role": "tool", "tool_call_id": call.get("id") or "", "content": content}
