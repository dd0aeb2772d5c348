"""The declarative table of every ``--amb-*`` option.

Each option has a command-line flag, an ini twin (``amb_<name>``) and an environment variable
(``AMB_<NAME>``). Precedence is CLI > environment > ini > default. Validation of values happens in
``config.py``; this module only says where a raw value came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_amb.option_spec import OptionSpec

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("mode", "evaluation mode: offline, online, replay, transfer, repair", default="online", metavar="MODE"),
    OptionSpec(
        "memory",
        "memory mechanism(s), comma-separated: any installed mechanism (entry points 'pytest_amb.memories'; "
        "the built-ins are described in the memories guide (docs), default: the one the installed packages declare)",
        metavar="NAME[,NAME]",
    ),
    OptionSpec(
        "task",
        "task(s), comma-separated: a task family's name selects its bundled samples, an original config name "
        "selects the original data under --amb-data-dir (installed families: entry points 'pytest_amb.tasks'; "
        "docs/tasks.md lists the built-ins and their names; default: the one the installed packages declare)",
        metavar="NAME[,NAME]",
    ),
    OptionSpec("seed", "seed of the schedule shuffle (the original's shuffle.seed)", default="66", metavar="INT"),
    OptionSpec("shuffle", "shuffle samples within the schedule (true/false)", default="true", metavar="BOOL"),
    OptionSpec(
        "limit",
        "keep only the first N steps of each stream (the original's keep_number); 0 = all",
        default="0",
        metavar="N",
    ),
    OptionSpec(
        "memory_config",
        "YAML file overriding memory parameters, one section per mechanism (e.g. '<mechanism>: {top_k: 5}')",
        metavar="FILE",
    ),
    OptionSpec(
        "model",
        "agent model name; 'reference' = the deterministic reference model served on loopback; "
        "'oracle' = replay each sample's gold solution (checks that the environment is faithful)",
        default="reference",
        metavar="NAME",
    ),
    OptionSpec(
        "base_url",
        "OpenAI-compatible endpoint of the agent, --amb-model (API key from AMB_API_KEY or OPENAI_API_KEY); the "
        "judge and the memories use it too unless given their own",
        metavar="URL",
    ),
    OptionSpec(
        "judge_base_url",
        "OpenAI-compatible endpoint of the LLM judge, --amb-judge-model (API key from AMB_JUDGE_API_KEY, else "
        "the agent's); default: the agent's endpoint",
        metavar="URL",
    ),
    OptionSpec(
        "memory_model",
        "model of the memories' own LLM calls (fact extraction, workflow induction, ...); default: the agent "
        "model ('reference' when the agent is the oracle); a mechanism's 'model' in --amb-memory-config wins",
        metavar="NAME",
    ),
    OptionSpec(
        "memory_base_url",
        "OpenAI-compatible endpoint of the memories' own LLM calls (API key from AMB_MEMORY_API_KEY, else the "
        "agent's); default: the agent's endpoint",
        metavar="URL",
    ),
    OptionSpec(
        "cache",
        "LLM response cache: auto (readwrite for real endpoints, off for the reference model), off, read, write, "
        "readwrite; manage it with 'python -m pytest_amb.llm.cache list|prune|clear'",
        default="auto",
        metavar="MODE",
    ),
    OptionSpec(
        "cache_dir",
        "folder of the LLM response cache (default: $XDG_CACHE_HOME/pytest-amb/llm or ~/.cache/pytest-amb/llm)",
        metavar="DIR",
    ),
    OptionSpec(
        "prices",
        "JSON or YAML file of model prices (USD per million tokens: input, output, cached_input) extending the "
        "bundled table, for the cost in money",
        metavar="FILE",
    ),
    OptionSpec(
        "budget",
        "the most this invocation may spend, in USD: no new step starts once the next would pass it; the run "
        "is then partial and --amb-resume finishes it (needs a price for every model used)",
        metavar="USD",
    ),
    OptionSpec(
        "llm_deadline",
        "seconds one LLM call may take, retries included; an endpoint that has not answered by then fails the call",
        default="120",
        metavar="SECONDS",
    ),
    OptionSpec(
        "llm_breaker",
        "after N calls in a row to one endpoint fail (no answer, refused, 429/5xx after retries), the remaining "
        "calls to it in the process fail at once as infrastructure errors; 0 = never",
        default="3",
        metavar="N",
    ),
    OptionSpec(
        "preflight",
        "true: before the first step, send one cheap request to each real endpoint (model list, else a one-token "
        "chat) and stop with exit 4 if one cannot be reached or refuses the key; false: skip it",
        default="true",
        metavar="BOOL",
    ),
    OptionSpec(
        "plots",
        "true: draw the run's figures into <run>/plots/ (PNG and SVG) at the end; false: skip matplotlib (about "
        "1.5 s) and draw them later with `python -m pytest_amb.report.plots <run dir>`. --html draws them anyway",
        default="false",
        metavar="BOOL",
    ),
    OptionSpec(
        "judge_model",
        "LLM-judge model name (default: the agent model; 'reference' = the reference model)",
        metavar="NAME",
    ),
    OptionSpec(
        "data_dir",
        "folder laid out like the original AMB data/ (needed for original task names)",
        metavar="DIR",
    ),
    OptionSpec(
        "container_engine",
        "container engine of the tasks that run containers: auto (DOCKER_HOST, the Docker socket, then Podman sockets), docker, "
        "podman, or a socket URL (unix:///..., tcp://...)",
        default="auto",
        metavar="ENGINE",
    ),
    OptionSpec("run_dir", "parent folder of run directories", default="reports/runs", metavar="DIR"),
    OptionSpec(
        "resume",
        "finish an interrupted run of the same configuration: the latest one, or the run id given",
        metavar="RUN_ID",
        const="latest",
    ),
    OptionSpec(
        "save_baseline",
        "save this run's summary and per-sample outcomes as a baseline named NAME (in --amb-baseline-dir)",
        metavar="NAME",
    ),
    OptionSpec(
        "compare",
        "compare with the saved baseline NAME (same model, data and recipe); needs --amb-max-drop",
        metavar="NAME",
    ),
    OptionSpec(
        "max_drop",
        "with --amb-compare: the largest allowed worsening per metric, e.g. 'csr=0.03,judge_accuracy=0.05'",
        metavar="METRIC=DROP[,...]",
    ),
    OptionSpec(
        "compare_alpha",
        "with --amb-compare: significance level of McNemar's exact test for pass/fail metrics (csr, asr, "
        "judge_accuracy); a larger drop that is not significant does not fail the run",
        default="0.05",
        metavar="ALPHA",
    ),
    OptionSpec("baseline_dir", "folder of saved baselines", default="reports/baselines", metavar="DIR"),
    OptionSpec(
        "reference_memory",
        "the memory the others are compared with, paired on the same samples (differences, McNemar p-values, "
        "bootstrap intervals); default: the first of --amb-memory",
        metavar="NAME",
    ),
    OptionSpec(
        "gate_scope",
        "what --amb-gate and --amb-compare judge: 'memory' (each memory over all its streams: seeds, "
        "conversations) or 'stream' (every stream on its own)",
        default="memory",
        metavar="memory|stream",
    ),
    OptionSpec(
        "fail_unsolved",
        "true: a sample the agent got wrong is a failed test (for gating per sample); false: it is reported as "
        "UNSOLVED, a result, and only ERRORs and failed gates fail the run",
        default="false",
        metavar="BOOL",
    ),
    OptionSpec(
        "reference_latency",
        "seconds the reference model waits before every answer (for throughput benchmarks)",
        default="0",
        metavar="SECONDS",
    ),
    OptionSpec(
        "embedding_model",
        "sentence-transformers model name or path; 'all-MiniLM-L6-v2' = the bundled, hash-checked copy",
        default="all-MiniLM-L6-v2",
        metavar="NAME",
    ),
    OptionSpec(
        "embedding_runtime",
        "auto: onnxruntime for the bundled model (no torch at run time; an ONNX export made once and cached), "
        "sentence-transformers otherwise; onnx: onnxruntime (a local model folder); sentence-transformers: torch",
        default="auto",
        metavar="RUNTIME",
    ),
    OptionSpec(
        "embedding_cache",
        "true: keep each text's vector on disk ($XDG_CACHE_HOME/pytest-amb/embeddings, per model and runtime) and "
        "reuse it in later runs; false: within this process only. Results are the same either way",
        default="true",
        metavar="BOOL",
    ),
    OptionSpec(
        "embed_ahead",
        "true: embed the texts coming steps will need (the next query, the next session) while the model answers; "
        "false: only when a step needs them. Results are the same either way",
        default="true",
        metavar="BOOL",
    ),
)


@dataclass(frozen=True)
class RawValue:
    value: str | None
    source: str  # "cli", "env", "ini" or "default"


def add_options(parser, specs: Iterable[OptionSpec]) -> None:
    group = parser.getgroup("amb", "AgentMemoryBench (pytest-amb)")
    for spec in specs:
        extra = {"nargs": "?", "const": spec.const} if spec.const else {}
        group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=spec.help, **extra)
        parser.addini(spec.ini, help=f"{spec.help} (twin of {spec.flag})", default=None)


def all_specs() -> list[OptionSpec]:
    """The harness's options (--amb-task and --amb-memory defaulting to what the installed packages mark as
    default), every mode's parameters, and every installed task family's own options."""
    from dataclasses import replace

    from pytest_amb import registry
    from pytest_amb.plan import modes

    defaults = {"task": registry.default("task"), "memory": registry.default("memory")}
    core = [replace(spec, default=defaults[spec.name]) if spec.name in defaults else spec for spec in OPTIONS]
    return [*core, *(spec for mode in modes().values() for spec in mode.params), *registry.option_specs()]


def spec(name: str) -> OptionSpec:
    return next(s for s in all_specs() if s.name == name)


def read_raw(config, environ: dict | None = None) -> dict[str, RawValue]:
    """Raw string value and its source for every option, CLI > env > ini > default."""
    environ = os.environ if environ is None else environ
    raw: dict[str, RawValue] = {}
    for spec in all_specs():
        cli = config.getoption(spec.dest, default=None)
        if cli is not None:
            raw[spec.name] = RawValue(str(cli), "cli")
            continue
        env = environ.get(spec.env)
        if env not in (None, ""):
            raw[spec.name] = RawValue(env, "env")
            continue
        ini = config.getini(spec.ini)
        if ini not in (None, "", []):
            raw[spec.name] = RawValue(str(ini).strip(), "ini")
            continue
        raw[spec.name] = RawValue(spec.default, "default")
    return raw


def read_value(config, name: str, environ: dict | None = None) -> str | None:
    """One option's value by the same precedence (CLI > env > ini > default), for fixtures and plugins."""
    return read_raw(config, environ)[name].value


