"""RunConfig: the one frozen, validated description of a benchmark run.

Built once from the raw option values (``options.read_raw``). Every bad value raises ConfigError naming
the option, where the value came from, and what is accepted; the plugin turns it into a UsageError.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pytest_amb.options import OPTIONS, RawValue
from pytest_amb.plan import ModeParams

MODES = ("offline", "online", "replay", "transfer", "repair")
# The parameters each mode reads (they enter the configuration and its hash only in that mode).
MODE_PARAMS = {
    "offline": ("train_size",),
    "online": ("cross_task",),
    "replay": ("replay_m", "replay_n", "replay_seed"),
    "transfer": ("transfer_from", "transfer_to", "forward_n"),
    "repair": ("repair_m", "repair_n", "repair_seed", "repair_size_locomo"),
}
REFERENCE_MODEL = "reference"
ORACLE_MODEL = "oracle"  # replays gold solutions; needs no endpoint
LOCAL_MODELS = (REFERENCE_MODEL, ORACLE_MODEL)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RunConfig:
    mode: str
    memories: tuple[str, ...]
    tasks: tuple  # tuple[taskcases.registry.TaskSource, ...]
    seeds: tuple[int, ...]
    shuffle: bool
    limit: int
    model: str
    base_url: str | None
    judge_model: str
    data_dir: Path | None
    db_url: str | None
    run_dir: Path
    embedding_model: str
    container_engine: str = "auto"
    os_base_image: str | None = None
    resume: str | None = None  # "latest" or a run id (not part of the results' definition)
    reference_latency: float = 0.0
    memory_config: Path | None = None
    memory_overrides: dict = field(default_factory=dict)
    params: ModeParams = field(default_factory=ModeParams)
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # option -> cli/env/ini/default

    @property
    def uses_oracle(self) -> bool:
        return self.model == ORACLE_MODEL

    @property
    def uses_reference_model(self) -> bool:
        return REFERENCE_MODEL in (self.model, self.judge_model)

    def to_json(self) -> dict:
        """Everything that defines the run's results. Never contains secrets (API keys come from the
        environment at call time and are not part of the configuration)."""
        return {
            "mode": self.mode,
            "params": {name: getattr(self.params, name) for name in MODE_PARAMS[self.mode]},
            "memories": list(self.memories),
            "tasks": [t.name for t in self.tasks],
            "seeds": list(self.seeds),
            "shuffle": self.shuffle,
            "limit": self.limit,
            "model": self.model,
            "base_url": self.base_url,
            "judge_model": self.judge_model,
            "data_dir": str(self.data_dir) if self.data_dir else None,
            "db_url": redact_url(self.db_url),
            "embedding_model": self.embedding_model,
            "os_base_image": self.os_base_image if any(t.family == "os" for t in self.tasks) else None,
            "memory_config": str(self.memory_config) if self.memory_config else None,
            "memory_overrides": self.memory_overrides,
        }

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:12]


def redact_url(url: str | None) -> str | None:
    """The URL without its password (the one place a secret could enter the configuration)."""
    if not url:
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _memory_overrides(path: Path | None, accepted: dict, fail) -> dict:
    """The --amb-memory-config sections, each checked against its mechanism's documented parameters."""
    from memories import config as memory_config

    try:
        overrides = memory_config.read_override_file(path)
        for name, section in overrides.items():
            if name not in accepted:
                fail(f"{path}: '{name}' is not a memory mechanism; accepted: {', '.join(accepted)}")
            memory_config.resolve(name, memory_config.defaults(name), section, str(path))
    except memory_config.MemoryConfigError as exc:
        fail(str(exc).removeprefix("--amb-memory-config: "))
    return overrides


def _describe(name: str, raw: RawValue) -> str:
    spec = next(s for s in OPTIONS if s.name == name)
    where = {"cli": spec.flag, "env": spec.env, "ini": f"ini option {spec.ini}", "default": f"default of {spec.flag}"}
    return f"{spec.flag} (from {where[raw.source]})"


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def resolve(raw: dict[str, RawValue], rootdir: Path) -> RunConfig:
    def fail(name: str, message: str):
        raise ConfigError(f"{_describe(name, raw[name])}: {message}")

    mode = (raw["mode"].value or "").strip()
    if mode not in MODES:
        fail("mode", f"'{mode}' is not accepted; accepted: {', '.join(MODES)}")

    import memories as memory_registry

    memory_names = _list(raw["memory"].value)
    accepted = memory_registry.available()
    if not memory_names:
        fail("memory", f"empty; accepted: {', '.join(accepted)}")
    for name in memory_names:
        if name not in accepted:
            fail("memory", f"'{name}' is not accepted; accepted: {', '.join(accepted)}")

    memory_config = Path(raw["memory_config"].value).expanduser() if raw["memory_config"].value else None
    memory_overrides = _memory_overrides(memory_config, accepted, lambda message: fail("memory_config", message))
    if len(set(memory_names)) != len(memory_names):
        fail("memory", "a memory is named twice")

    data_dir = Path(raw["data_dir"].value).expanduser() if raw["data_dir"].value else None
    if data_dir is not None and not data_dir.is_dir():
        fail("data_dir", f"'{data_dir}' is not a directory")

    from taskcases.registry import TaskNameError
    from taskcases.registry import resolve as resolve_task

    task_names = _list(raw["task"].value)
    if not task_names:
        fail("task", "empty; name at least one task")
    tasks = []
    for name in task_names:
        try:
            tasks.append(resolve_task(name, data_dir))
        except TaskNameError as exc:
            fail("task", str(exc))

    seeds = []
    for part in _list(raw["seed"].value):
        try:
            seeds.append(int(part))
        except ValueError:
            fail("seed", f"'{part}' is not an integer; give an integer or a comma-separated list")
    if not seeds:
        fail("seed", "empty; give an integer")

    def boolean(name: str) -> bool:
        text = (raw[name].value or "").strip().lower()
        if text not in _TRUE + _FALSE:
            fail(name, f"'{raw[name].value}' is not accepted; accepted: true, false")
        return text in _TRUE

    def number(name: str, kind: type):
        text = (raw[name].value or "").strip()
        try:
            return kind(text)
        except ValueError:
            fail(name, f"'{text}' is not {'an integer' if kind is int else 'a number'}")

    shuffle = boolean("shuffle")
    params = ModeParams(
        train_size=number("train_size", float),
        cross_task=boolean("cross_task"),
        replay_m=number("replay_m", int),
        replay_n=number("replay_n", int),
        replay_seed=number("replay_seed", int),
        transfer_from=(raw["transfer_from"].value or "").strip(),
        transfer_to=(raw["transfer_to"].value or "").strip(),
        forward_n=number("forward_n", int),
        repair_m=number("repair_m", int),
        repair_n=number("repair_n", int),
        repair_seed=number("repair_seed", int),
        repair_size_locomo=number("repair_size_locomo", float),
    )
    if params.cross_task and mode != "online":
        fail("cross_task", f"applies to online mode only (mode is '{mode}'); for transfer use --amb-transfer-from/-to")

    def non_negative(name: str, kind: type, hint: str):
        try:
            value = kind(raw[name].value or 0)
        except ValueError:
            value = -1
        if value < 0:
            fail(name, f"'{raw[name].value}' is not accepted; {hint}")
        return value

    limit = non_negative("limit", int, "give a whole number (0 = no limit)")

    model = (raw["model"].value or "").strip()
    base_url = (raw["base_url"].value or "").strip() or None
    if not model:
        fail("model", "empty; give a model name, 'reference' or 'oracle'")
    if model in LOCAL_MODELS and base_url:
        fail("model", f"'{model}' runs inside pytest-amb and needs no endpoint; name the model of --amb-base-url")
    if model not in LOCAL_MODELS and not base_url:
        fail("model", f"'{model}' needs an endpoint: pass --amb-base-url (any OpenAI-compatible URL)")
    if base_url and not base_url.startswith(("http://", "https://")):
        fail("base_url", f"'{base_url}' is not an http(s) URL")
    judge_model = (raw["judge_model"].value or "").strip() or (REFERENCE_MODEL if model == ORACLE_MODEL else model)
    if judge_model == ORACLE_MODEL:
        fail("judge_model", "'oracle' cannot judge; use 'reference' or a real model")
    if judge_model != REFERENCE_MODEL and not base_url:
        fail("judge_model", f"'{judge_model}' needs an endpoint: pass --amb-base-url and a real --amb-model")

    db_url = (raw["db_url"].value or "").strip() or None
    if db_url:
        from taskcases.dbbench.backends.mysql import parse_url

        try:
            parse_url(db_url)
        except ValueError as exc:
            raise ConfigError(f"{_describe('db_url', raw['db_url'])}: '{redact_url(db_url)}': {exc}") from None

    run_dir = Path(raw["run_dir"].value or "reports/runs").expanduser()
    if not run_dir.is_absolute():
        run_dir = rootdir / run_dir

    embedding_model = (raw["embedding_model"].value or "").strip()
    if not embedding_model:
        fail("embedding_model", "empty; give a sentence-transformers model name or path")

    container_engine = (raw["container_engine"].value or "").strip() or "auto"
    if container_engine not in ("auto", "docker", "podman") and "://" not in container_engine:
        fail("container_engine", f"'{container_engine}' is not accepted; accepted: auto, docker, podman, or a URL")
    os_base_image = (raw["os_base_image"].value or "").strip() or None

    resume = (raw["resume"].value or "").strip() or None
    reference_latency = non_negative("reference_latency", float, "give seconds >= 0")

    return RunConfig(
        mode=mode,
        memories=tuple(memory_names),
        tasks=tuple(tasks),
        seeds=tuple(seeds),
        shuffle=shuffle,
        limit=limit,
        model=model,
        base_url=base_url,
        judge_model=judge_model,
        data_dir=data_dir,
        db_url=db_url,
        run_dir=run_dir,
        embedding_model=embedding_model,
        container_engine=container_engine,
        os_base_image=os_base_image,
        resume=resume,
        reference_latency=reference_latency,
        memory_config=memory_config,
        memory_overrides=memory_overrides,
        params=params,
        sources={name: value.source for name, value in raw.items()},
    )
