"""A complete user-written task family, one folder: the worked example of docs/tasks.md.

``arithmetic`` asks one integer expression per sample ("43 + 21") and scores the answer within a tolerance.
It declares everything about itself in one ``TaskFamily``: the names it answers (its bundled set and an
original-style set under ``--amb-data-dir``), how its data is loaded and indexed, its task instances, its own
option (``--amb-arithmetic-tolerance``, ini ``amb_arithmetic_tolerance``, ``AMB_ARITHMETIC_TOLERANCE``), its
metric (``abs_error``, in the terminal table, summary.json, the HTML report and ``--amb-gate``), and what the
reference model answers to its requests. It is registered by an entry point:

    [project.entry-points."pytest_amb.tasks"]
    arithmetic = "arithmetic:FAMILY"

and then ``pytest --pyargs arithmetic.test_arithmetic --amb-task=arithmetic`` runs it in any mode. The
folder holds this declaration, the bundled data (``data/``) and the test module pytest collects.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from pathlib import Path

from pytest_amb.interfaces import EnvReply, EpisodeInfo, Message, TaskIndex
from pytest_amb.llm.reference.policy import ReferencePolicy
from pytest_amb.metrics import mean, scored
from pytest_amb.metrics.table import Aggregate, Metric
from pytest_amb.option_spec import OptionSpec
from pytest_amb.tasks import DataError, TaskContext, TaskFamily, TaskSource

SYSTEM_PROMPT = "You compute integer arithmetic. Reply with the number only."
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def evaluate(expression: str) -> int:
    """The value of an expression of integers, +, - and * (nothing else is accepted)."""

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"not an integer expression: {expression!r}")

    return value(ast.parse(expression, mode="eval").body)


# -- data: load once, index for the plan ---------------------------------------------------------------
def load(source: TaskSource) -> list[dict]:
    samples = []
    for path in source.files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                evaluate(record["question"])
                samples.append({"id": str(record["id"]), "question": record["question"]})
            except (json.JSONDecodeError, KeyError, ValueError, SyntaxError) as exc:
                raise DataError(f"{path}:{number}: expected {{\"id\": ..., \"question\": \"12 + 3\"}} ({exc})") from None
    return samples


def index(source: TaskSource, samples: list[dict]) -> list[TaskIndex]:
    return [TaskIndex(name=source.name, family="arithmetic", sample_ids=tuple(s["id"] for s in samples))]


def build(source: TaskSource, samples: list[dict], context: TaskContext) -> list:
    return [ArithmeticTask(source.name, samples, context.options["arithmetic_tolerance"])]


def parse_tolerance(text: str | None) -> float:
    try:
        value = float((text or "0").strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a number; give an absolute tolerance >= 0") from None
    if value < 0:
        raise ValueError(f"'{text}' is negative; give an absolute tolerance >= 0")
    return value


# -- the environment ------------------------------------------------------------------------------------
class ArithmeticTask:
    backend = "in-process"

    def __init__(self, name: str, samples: list[dict], tolerance: float):
        self.name = name
        self.tolerance = tolerance
        self.samples = {s["id"]: s for s in samples}
        self.index = TaskIndex(name=name, family="arithmetic", sample_ids=tuple(self.samples))

    def open(self, sample_id: str) -> ArithmeticEpisode:
        return ArithmeticEpisode(self.name, self.samples[sample_id], self.tolerance)

    def oracle_replies(self, sample_id: str) -> list[Message]:
        return [{"role": "assistant", "content": str(evaluate(self.samples[sample_id]["question"]))}]

    def close(self) -> None:
        pass


class ArithmeticEpisode:
    max_rounds = 1

    def __init__(self, task: str, sample: dict, tolerance: float):
        self.sample, self.tolerance = sample, tolerance
        self.tools: list[dict] = []
        self.info = EpisodeInfo(task=task, sample_id=sample["id"], query=sample["question"])
        self.messages: list[Message] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": sample["question"]},
        ]

    def step(self, assistant_message: Message) -> EnvReply:
        gold = evaluate(self.sample["question"])
        found = _NUMBER.findall(str(assistant_message.get("content") or ""))
        error = abs(float(found[-1]) - gold) if found else None
        correct = error is not None and error <= self.tolerance
        operation = next((op for op in "+-*" if op in self.sample["question"].lstrip("-")), "?")
        return EnvReply([], finish=True, reward=1.0 if correct else 0.0, status="completed",
                        metrics={"abs_error": error, "type": operation, "gold": gold},
                        explanation=f"{self.sample['question']} = {gold}; answered {found[-1] if found else '(nothing)'}")

    def close(self) -> None:
        pass


# -- the reference model's policy: computes from the request alone -------------------------------------
def _claims(request: dict) -> bool:
    messages = request.get("messages") or []
    return bool(messages) and messages[0].get("role") == "system" and messages[0].get("content") == SYSTEM_PROMPT


def _respond(request: dict) -> dict:
    question = str(request["messages"][-1].get("content") or "").splitlines()[-1]
    try:
        return {"role": "assistant", "content": str(evaluate(question))}
    except (ValueError, SyntaxError):
        return {"role": "assistant", "content": "I cannot compute that."}


# -- the metric -----------------------------------------------------------------------------------------
def _error_block(primary: list[dict], results: list[dict]) -> dict | None:
    errors = [r["metrics"]["abs_error"] for r in scored(primary) if r["metrics"].get("abs_error") is not None]
    answered = [r for r in scored(primary) if "abs_error" in r["metrics"]]
    if not answered:
        return None  # not an arithmetic stream
    return {"n": len(answered), "unparsed": len(answered) - len(errors), "abs_error": mean(errors)}


ERRORS = Aggregate(
    key="arithmetic",
    compute=_error_block,
    metrics=(Metric("abs_error", "|err|", lambda b: b["abs_error"], "number", better="lower",
                    description="mean absolute error of the numeric answers (lower is better)",
                    short="mean absolute error", sample=lambda r: r["metrics"].get("abs_error")),),
)  # fmt: skip

FAMILY = TaskFamily(
    name="arithmetic",
    root=Path(__file__).parent,
    bundled="data/*.jsonl",
    original={"arithmetic-hard": "arithmetic/hard.jsonl"},
    load=load,
    index=index,
    build=build,
    options=(
        OptionSpec("arithmetic_tolerance", "arithmetic: absolute tolerance of a correct answer", default="0",
                   metavar="NUMBER", parse=parse_tolerance),
    ),
    aggregates=(ERRORS,),
    reference=(ReferencePolicy("arithmetic.compute", _claims, _respond),),
    description="integer arithmetic, one expression per sample",
)  # fmt: skip
