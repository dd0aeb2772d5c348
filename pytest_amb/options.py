"""The declarative table of every ``--amb-*`` option.

Each option has a command-line flag, an ini twin (``amb_<name>``) and an environment variable
(``AMB_<NAME>``). Precedence is CLI > environment > ini > default. Validation of values happens in
``config.py``; this module only says where a raw value came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class OptionSpec:
    name: str  # e.g. "mode"; flag --amb-mode, ini amb_mode, env AMB_MODE
    help: str
    default: str | None = None
    metavar: str = "VALUE"
    const: str | None = None  # the value of the bare flag (an optional argument)

    @property
    def flag(self) -> str:
        return "--amb-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "amb_" + self.name

    @property
    def env(self) -> str:
        return "AMB_" + self.name.upper()

    @property
    def dest(self) -> str:
        return "amb_" + self.name


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("mode", "evaluation mode: offline, online, replay, transfer, repair", default="online", metavar="MODE"),
    OptionSpec(
        "memory",
        "memory mechanism(s), comma-separated: zero_shot, stream_icl, awm_pro, mem0, mems, or one an installed "
        "package registers (entry points 'pytest_amb.memories')",
        default="stream_icl",
        metavar="NAME[,NAME]",
    ),
    OptionSpec(
        "task",
        "task(s), comma-separated: a bare name (locomo, dbbench, os) selects the bundled samples, an original "
        "config name (locomo-0 ... locomo-9, dbbench-dev, dbbench-std, os-dev, os-std) selects the original data "
        "under --amb-data-dir",
        default="locomo",
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
        "YAML file overriding memory parameters, one section per mechanism (e.g. 'mem0: {algorithm: v3}')",
        metavar="FILE",
    ),
    OptionSpec(
        "train_size",
        "offline: fraction of a system task's samples in the train phase",
        default="0.6",
        metavar="FRACTION",
    ),
    OptionSpec(
        "cross_task",
        "online: all selected tasks in one stream sharing one memory (true/false)",
        default="false",
        metavar="BOOL",
    ),
    OptionSpec("replay_m", "replay: training samples per stage (system tasks)", default="20", metavar="N"),
    OptionSpec("replay_n", "replay: replay tests after each stage", default="20", metavar="N"),
    OptionSpec("replay_seed", "replay: seed of the replay-test draws", default="66", metavar="INT"),
    OptionSpec("transfer_from", "transfer: source task (cross-task transfer)", metavar="TASK"),
    OptionSpec("transfer_to", "transfer: target task (cross-task transfer)", metavar="TASK"),
    OptionSpec(
        "forward_n",
        "transfer without from/to: probe the n-th sample after each learned one (forward transfer)",
        default="3",
        metavar="N",
    ),
    OptionSpec("repair_m", "repair: samples per group (system tasks)", default="20", metavar="N"),
    OptionSpec("repair_n", "repair: samples per group given wrong feedback (system tasks)", default="20", metavar="N"),
    OptionSpec(
        "repair_seed", "repair: seed of the choice of samples given wrong feedback", default="66", metavar="INT"
    ),
    OptionSpec(
        "repair_size_locomo",
        "repair: fraction of a session's questions given wrong feedback (LoCoMo), in (0, 1]",
        default="0.5",
        metavar="FRACTION",
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
        "OpenAI-compatible endpoint for --amb-model (API key from AMB_API_KEY or OPENAI_API_KEY)",
        metavar="URL",
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
        "db_url",
        "dbbench SQL server, e.g. mysql://user:password@host:3306 (MySQL or MariaDB); empty = embedded SQLite",
        metavar="URL",
    ),
    OptionSpec(
        "container_engine",
        "os_interaction container engine: auto (DOCKER_HOST, the Docker socket, then Podman sockets), docker, "
        "podman, or a socket URL (unix:///..., tcp://...)",
        default="auto",
        metavar="ENGINE",
    ),
    OptionSpec(
        "os_base_image",
        "os_interaction: base image the task images are built FROM (default: the Dockerfiles' ubuntu:22.04; "
        "offline machines use a locally imported root filesystem, see extra/README.md)",
        metavar="IMAGE",
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
)


@dataclass(frozen=True)
class RawValue:
    value: str | None
    source: str  # "cli", "env", "ini" or "default"


def add_options(parser) -> None:
    group = parser.getgroup("amb", "AgentMemoryBench (pytest-amb)")
    for spec in OPTIONS:
        extra = {"nargs": "?", "const": spec.const} if spec.const else {}
        group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=spec.help, **extra)
        parser.addini(spec.ini, help=f"{spec.help} (twin of {spec.flag})", default=None)


def read_raw(config, environ: dict | None = None) -> dict[str, RawValue]:
    """Raw string value and its source for every option, CLI > env > ini > default."""
    environ = os.environ if environ is None else environ
    raw: dict[str, RawValue] = {}
    for spec in OPTIONS:
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
