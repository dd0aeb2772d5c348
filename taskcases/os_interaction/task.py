"""os_interaction as a task: one sample per episode, an OpenAI function-calling loop in a fresh container.

The agent has three tools, ``bash_action(script)``, ``answer_action(answer)`` and ``finish_action(thought)``,
and 8 rounds (spec amb_tasks §3.3). Setup runs the sample's init scripts (non-TTY exec) and its start
script (in the agent's shell), so ``cd``, variables and ``su`` persist. Only the first tool call of a reply
is acted on; every other call still gets a tool reply, so no ``tool_call_id`` is left unanswered.
``answer_action`` commits its answer, ``finish_action`` its thought; the answer is scored in the same
container (§3.4). The container engine is discovered on first use; without one the task's steps are
skipped (``unavailable()``).
"""

from __future__ import annotations

import json
import shlex
import sys
import uuid

from pytest_amb.interfaces import EnvironmentUnavailable, EnvReply, EpisodeInfo, Message, TaskIndex
from pytest_amb.llm.oracle import tool_call_turn
from pytest_amb.tasks import TaskContext, TaskSource
from taskcases.os_interaction import images, scoring
from taskcases.os_interaction.loader import OsSample, load_samples

MAX_ROUNDS = 8  # configs/tasks/os.yaml round_limit
COMMAND_TIMEOUT_S = 30.0  # the original's per-command timeout (agent shell, init, start and check scripts)
SYSTEM_PROMPT = (
    "You are an assistant that will act like a person, and I will play the role of a Linux (Ubuntu) operating "
    "system. Your goal is to carry out the operations I ask for, or to answer the question I ask. In each turn, "
    "first think about what you should do, then call exactly one of the three tools:\n"
    "1. bash_action: run bash code in the system and see its output.\n"
    "2. finish_action: you have finished the task (or you cannot get the information you need).\n"
    "3. answer_action: you have the answer to the question.\n"
    "If the output is too long, I will truncate it, and the truncated output is incomplete; you have to deal "
    "with that yourself. Your bash code must not need any interactive input. Your answer must be exact and "
    "nothing else: if I ask for a number, answer only the number. Always call a tool; never reply in plain text."
)
FIRST_MESSAGE = "Now, I will start a new problem in a new OS. My problem is:\n\n"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "bash_action",
            "description": "Run bash code in the Linux system and return its output.",
            "parameters": {
                "type": "object",
                "properties": {"script": {"type": "string", "description": "the bash code to run"}},
                "required": ["script"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "finish_action",
            "description": "Say that the task is finished.",
            "parameters": {
                "type": "object",
                "properties": {"thought": {"type": "string", "description": "why the task is finished"}},
                "required": ["thought"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "answer_action",
            "description": "Give the answer to the question.",
            "parameters": {
                "type": "object",
                "properties": {"answer": {"type": "string", "description": "the answer, exactly"}},
                "required": ["answer"],
            },
        },
    },
]
TOOL_ARGUMENT = {"bash_action": "script", "finish_action": "thought", "answer_action": "answer"}
OUTPUT_PREFIX = "The output of the OS:\n\n"
EMPTY_OUTPUT = "The output of the OS is empty."
NO_TOOL_CALLS = "No executable tool calls found. Please call a tool instead"
NOT_ACTED_ON = "Not executed: only the first tool call of a reply is acted on."


class ArgumentError(Exception):
    """A tool call's arguments cannot be read; the agent is told why."""


def _to_terminal(line: str) -> None:
    """Image build progress, shown even while pytest captures output (a first build takes a while)."""
    print(line, file=sys.__stderr__, flush=True)


class TaskSetupError(OSError):
    """A sample's init or start script failed: the sample cannot be run (an ERROR, not a wrong answer)."""


class ContainerFailure(OSError):
    """The container layer failed (an image build, a container that is gone): an infrastructure ERROR."""


def _container_errors() -> tuple[type[Exception], ...]:
    from pytest_amb.containers.images import ImageBuildError
    from pytest_amb.containers.sandbox import SandboxError

    return ImageBuildError, SandboxError


def load(source: TaskSource) -> list[OsSample]:
    return load_samples(source.files)


def index(source: TaskSource, samples: list[OsSample]) -> list[TaskIndex]:
    return [TaskIndex(name=source.name, family="os", sample_ids=tuple(s.sample_id for s in samples))]


def build(source: TaskSource, samples: list[OsSample], context: TaskContext) -> list[OsTask]:
    options = context.options
    return [OsTask(source.name, samples, context.service("containers"), options["os_base_image"],
                   init_network=bool(options.get("os_init_network")))]  # fmt: skip


def tool_output(text: str) -> str:
    """The tool reply to a bash_action: the original's wording and 800/780 cap. (A command that timed out
    is interrupted; the sandbox says so in the text.)"""
    from taskcases.os_interaction.output import cap_output

    return OUTPUT_PREFIX + cap_output(text) if text else EMPTY_OUTPUT


def observed_output(content: str) -> str:
    """The command output inside a bash_action tool reply ("" for an empty one)."""
    return content[len(OUTPUT_PREFIX) :] if content.startswith(OUTPUT_PREFIX) else ""


class OsTask:
    def __init__(self, name: str, samples: list[OsSample], engine="auto", base_image: str | None = None, *,
                 init_network: bool = False):  # fmt: skip
        """``engine``: the harness's "containers" service, a choice (auto, docker, podman or a socket URL;
        discovered on first use, closed with the task), or a ContainerEngine. ``init_network``
        (``--amb-os-init-network``): a sample's init scripts run with the engine's bridge network, which is
        disconnected before the start script and the agent's first command."""
        from pytest_amb.containers.service import ContainerService

        self.name = name
        self.samples = {s.sample_id: s for s in samples}
        self.index = TaskIndex(name=name, family="os", sample_ids=tuple(s.sample_id for s in samples))
        self.base_image = base_image
        self.init_network = init_network
        self._owned = isinstance(engine, str)  # a service of its own: closed with the task
        self._containers = ContainerService(engine) if isinstance(engine, str) else engine
        self._engine = None if isinstance(self._containers, ContainerService) else engine
        self._unavailable: str | None = None
        self._images: dict[str, str] = {}

    # -- the container engine -------------------------------------------------------------------------
    def _discover(self):
        if self._engine is None and self._unavailable is None:
            from pytest_amb.containers.engine import EngineUnavailable

            try:
                self._engine = self._containers.engine()
            except EngineUnavailable as exc:
                self._unavailable = f"{self.name}: {exc}\n{images.OFFLINE_ENGINE_HINT}"
        return self._engine

    def unavailable(self) -> str | None:
        """Why this task cannot run on this machine (no container engine), else None."""
        return None if self._discover() is not None else self._unavailable

    @property
    def backend(self) -> str:
        engine = self._discover()
        base = f", base image {self.base_image}" if self.base_image else ""
        network = ", network during init scripts only" if self.init_network else ""
        return f"{engine.name} (containers{base}{network})" if engine is not None else "no container engine"

    def image(self, kind: str) -> str:
        if kind not in self._images:
            self._images[kind] = images.ensure(
                self._discover(), kind, base_image=self.base_image, progress=_to_terminal
            )
        return self._images[kind]

    # -- samples --------------------------------------------------------------------------------------
    def sample(self, sample_id: str) -> OsSample:
        try:
            return self.samples[sample_id]
        except KeyError:
            raise KeyError(f"{self.name}: no sample '{sample_id}'") from None

    def open(self, sample_id: str) -> OsEpisode:
        sample = self.sample(sample_id)
        engine = self._discover()
        if engine is None:
            raise EnvironmentUnavailable(self._unavailable)
        from pytest_amb.containers.engine import INIT_NETWORK

        try:
            tag = self.image(sample.image)
            sandbox = images.open_sandbox(
                engine,
                sample.image,
                session_id=f"{self.name}-{sample_id}-{uuid.uuid4().hex[:8]}",
                base_image=self.base_image,
                network=INIT_NETWORK if self.init_network and sample.init else None,
            )
        except _container_errors() as exc:
            raise ContainerFailure(f"{self.name}: sample {sample_id}: {exc}") from exc
        try:
            return OsEpisode(self.name, sample, sandbox, {"engine": engine.name, "image": tag, "init_network": None})
        except _container_errors() as exc:
            sandbox.close()
            raise ContainerFailure(f"{self.name}: sample {sample_id}: {exc}") from exc
        except BaseException:
            sandbox.close()
            raise

    def sample_info(self, sample_id: str) -> EpisodeInfo:
        return sample_info(self.name, self.sample(sample_id))

    def oracle_replies(self, sample_id: str) -> list:
        """The gold solution: a match item answers its expected string; otherwise the example runs in the
        shell and its output is the answer (a reply computed from the messages, since init data is random)."""
        sample = self.sample(sample_id)
        if sample.match is not None and sample.match.answer is not None:
            return [tool_call_turn(0, "answer_action", {"answer": sample.match.answer})]
        if sample.example is None:  # a regex match without an example: nothing better to answer
            return [tool_call_turn(0, "answer_action", {"answer": sample.match.regex if sample.match else ""})]
        script = sample.example.code
        if sample.example.language == "python":
            script = "python3 -c " + shlex.quote(script)
        return [tool_call_turn(0, "bash_action", {"script": script}), _answer_last_output]

    def close(self) -> None:
        if self._owned:
            self._containers.close()
        self._engine = None


def _answer_last_output(messages: list[Message]) -> Message:
    last = next((m for m in reversed(messages) if m.get("role") == "tool"), {})
    return tool_call_turn(1, "answer_action", {"answer": observed_output(str(last.get("content") or "")).strip()})


def sample_info(task: str, sample: OsSample) -> EpisodeInfo:
    return EpisodeInfo(
        task=task,
        sample_id=sample.sample_id,
        query=sample.description,
        meta={"kind": "shell", "image": sample.image, "evaluation": sample.evaluation, "labels": list(sample.labels)},
    )


class OsEpisode:
    max_rounds = MAX_ROUNDS
    tools = TOOLS

    def __init__(self, task: str, sample: OsSample, sandbox, provenance: dict):
        self.sample = sample
        self.sandbox = sandbox
        self.provenance = provenance
        self.info = sample_info(task, sample)
        self.messages: list[Message] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": FIRST_MESSAGE + sample.description},
        ]
        self.rounds = 0
        self.commands: list[str] = []
        self.timeouts = 0  # agent commands interrupted at the time limit (an observation, not the end)
        self._set_up()

    def _where(self) -> str:
        return f"sample {self.sample.sample_id} ({self.sample.file}[{self.sample.index_in_file}])"

    def _set_up(self) -> None:
        network = getattr(self.sandbox, "network", None)
        for n, script in enumerate(self.sample.init):
            result = self.sandbox.exec(scoring.argv(script, []), timeout=COMMAND_TIMEOUT_S)
            if result.exit_code != 0 or result.timed_out:
                why = "timed out" if result.timed_out else f"exited with {result.exit_code}"
                offline = "" if network else " (without network; see --amb-os-init-network)"
                raise TaskSetupError(
                    f"{self._where()}: init script {n} ({script.origin}) {why} in {self.provenance['image']}"
                    f"{offline}: {(result.stderr or result.stdout).strip()[-500:]!r}"
                )
        if network:  # the init scripts had the network; nothing after them does (checked inside the container)
            self.sandbox.disconnect_network()
            self.provenance["init_network"] = f"{network} (init scripts only; disconnected before the agent)"
        if self.sample.start is not None:
            output = self.sandbox.shell(self.sample.start.code, timeout=COMMAND_TIMEOUT_S)
            if output.timed_out:
                raise TaskSetupError(f"{self._where()}: the start script did not finish within {COMMAND_TIMEOUT_S:g} s")

    def step(self, assistant_message: Message) -> EnvReply:
        try:
            return self._step(assistant_message)
        except _container_errors() as exc:
            raise ContainerFailure(f"{self._where()}: {exc}") from exc

    def _step(self, assistant_message: Message) -> EnvReply:
        self.rounds += 1
        calls = assistant_message.get("tool_calls") or []
        if not calls:
            replies: list[Message] = [{"role": "user", "content": NO_TOOL_CALLS}]
            verdict = None
        else:
            reply, verdict = self._act(calls[0])
            replies = [reply, *(_tool_reply(call, NOT_ACTED_ON) for call in calls[1:])]
        if verdict is not None:
            return EnvReply(replies, finish=True, reward=verdict.reward, status="completed", metrics=verdict.metrics,
                            explanation=verdict.explanation)  # fmt: skip
        if self.rounds >= MAX_ROUNDS:
            metrics = self._metrics(None, correct=False, reason="round limit")
            explanation = f"problem: {self.sample.description}\nno answer within {MAX_ROUNDS} rounds\n" + self._trail()
            return EnvReply(replies, finish=True, status="task limit reached", metrics=metrics, explanation=explanation)
        return EnvReply(replies, finish=False)

    def _act(self, call: dict) -> tuple[Message, EnvReply | None]:
        function = call.get("function") or {}
        name = function.get("name")
        if name not in TOOL_ARGUMENT:
            return _tool_reply(
                call, f"Invalid function call '{name}'. Use bash_action, answer_action or finish_action."
            ), None
        try:
            value = _argument(function.get("arguments"), TOOL_ARGUMENT[name])
        except ArgumentError as exc:
            return _tool_reply(call, f"Error: {exc}"), None
        if name == "bash_action":
            command = str(value)
            self.commands.append(command)
            output = self.sandbox.shell(command, timeout=COMMAND_TIMEOUT_S)
            self.timeouts += output.timed_out
            return _tool_reply(call, tool_output(output.text)), None
        return _tool_reply(call, "Answer committed."), self._score(value)

    def _score(self, answer) -> EnvReply:
        verdict = scoring.evaluate(self.sample, answer, self._run)
        metrics = self._metrics(answer, correct=verdict.correct, reason="" if verdict.correct else "wrong answer")
        metrics["check"] = verdict.steps
        explanation = f"problem: {self.sample.description}\n{verdict.detail}\n{self._trail()}"
        return EnvReply(
            [], finish=True, reward=1.0 if verdict.correct else 0.0, metrics=metrics, explanation=explanation
        )

    def _run(self, argv: list[str]) -> scoring.ScriptRun:
        result = self.sandbox.exec(argv, timeout=COMMAND_TIMEOUT_S)
        return scoring.ScriptRun(result.exit_code, result.stdout, result.stderr, result.timed_out)

    def _metrics(self, answer, *, correct: bool, reason: str) -> dict:
        return {
            "type": self.sample.evaluation,
            "is_correct": correct,
            "result": correct,
            "reason": reason,
            "answer": answer,
            "commands": list(self.commands),
            "rounds": self.rounds,
            "timeouts": self.timeouts,
            "file": self.sample.file,
            "index_in_file": self.sample.index_in_file,
            "backend": self.provenance["engine"],
            **self.provenance,
        }

    def _trail(self) -> str:
        return f"commands: {self.commands}\ncontainer: {self.provenance['engine']}, image {self.provenance['image']}"

    def close(self) -> None:
        self.sandbox.close()


def _argument(arguments, key: str):
    """The named argument; a call with one argument of another name is read as that argument."""
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ArgumentError(f"the arguments must be a JSON object with '{key}'")
    if key in parsed:
        return parsed[key]
    if len(parsed) == 1:
        return next(iter(parsed.values()))
    raise ArgumentError(f"missing argument '{key}'")


def _tool_reply(call: dict, content: str) -> Message:
    return {"role": "tool", "tool_call_id": call.get("id") or "", "content": content}
