"""RunConfig: the one frozen, validated description of a benchmark run.

Built once from the raw option values (``options.read_raw``). Every bad value raises ConfigError naming
the option, where the value came from, and what is accepted; the plugin turns it into a UsageError.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from pytest_amb import options
from pytest_amb.option_spec import describe, parse_bool
from pytest_amb.options import RawValue
from pytest_amb.plan import MODES, ModeParams, modes
from pytest_amb.redaction import redact_url, register_option_value, register_url

REFERENCE_MODEL = "reference"
ORACLE_MODEL = "oracle"  # replays gold solutions; needs no endpoint
LOCAL_MODELS = (REFERENCE_MODEL, ORACLE_MODEL)
EMBEDDING_RUNTIMES = ("auto", "onnx", "sentence-transformers")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RunConfig:
    mode: str
    memories: tuple[str, ...]
    tasks: tuple  # tuple[pytest_amb.tasks.TaskSource, ...]
    seeds: tuple[int, ...]
    shuffle: bool
    limit: int
    model: str
    base_url: str | None
    judge_model: str
    data_dir: Path | None
    run_dir: Path
    embedding_model: str
    embedding_runtime: str = "auto"  # auto, onnx, sentence-transformers
    embedding_cache: bool = True  # vectors kept on disk between runs (not in the hash: results are the same)
    embed_ahead: bool = True  # coming steps' texts embedded while the model answers (not in the hash either)
    container_engine: str = "auto"
    resume: str | None = None  # "latest" or a run id (not part of the results' definition)
    reference_latency: float = 0.0
    llm_deadline: float = 120.0  # seconds per LLM call, retries included (not part of the results' definition)
    llm_breaker: int = 3  # failed calls in a row after which an endpoint's calls fail at once; 0 = never
    judge_base_url: str | None = None  # None: the judge is the reference model
    memory_model: str | None = None  # the memories' own calls; None: the agent model (reference for the oracle)
    memory_base_url: str | None = None  # None: the memory model is the reference model
    cache: str = "off"  # the response cache: auto, off, read, write, readwrite (not in to_json: answers are the same)
    cache_dir: Path | None = None
    prices: Path | None = None  # a price file extending the bundled table (reporting, not in to_json)
    budget: float | None = None  # USD this invocation may spend (not in to_json)
    preflight: bool = True  # check every real endpoint before the first step
    plots: bool = False  # draw the figures at the end (--html draws them anyway)
    reference_memory: str | None = None  # the memory others are compared with (reporting, not in to_json)
    gate_scope: str = "memory"  # "memory" or "stream": what gates and baseline comparisons judge (reporting)
    fail_unsolved: bool = False  # wrong answers as failed tests (reporting, not in to_json)
    memory_config: Path | None = None
    memory_overrides: dict = field(default_factory=dict)
    params: ModeParams = field(default_factory=ModeParams)
    task_options: dict[str, dict] = field(default_factory=dict)  # selected family -> its own options' values
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # option -> cli/env/ini/default/path

    @property
    def uses_oracle(self) -> bool:
        return self.model == ORACLE_MODEL

    @property
    def uses_reference_model(self) -> bool:
        return REFERENCE_MODEL in (self.model, self.judge_model)

    @property
    def memory_llm_model(self) -> str:
        """The model of the memories' own calls unless a mechanism's --amb-memory-config names its own."""
        model = self.memory_model or self.model
        return REFERENCE_MODEL if model == ORACLE_MODEL else model

    def endpoint(self, role: str, model: str | None = None):
        """The ``Endpoint`` of ``role`` (agent, judge, memory); ``model`` for a memory mechanism's own model."""
        from pytest_amb.llm.endpoints import Endpoint

        if role == "agent":
            return Endpoint("agent", self.model, self.base_url)
        if role == "judge":
            return Endpoint("judge", self.judge_model, self.judge_base_url)
        model = model or self.memory_llm_model
        return Endpoint("memory", model, None if model in LOCAL_MODELS else self.memory_base_url or self.base_url)

    def endpoints(self) -> list:
        """The endpoints this run uses: the agent's; the judge's when a selected family asks for the judge; the
        memories' when a selected memory makes LLM calls (one per distinct model)."""
        from pytest_amb import registry

        used = [self.endpoint("agent")]
        if any("judge_llm" in registry.family(family).services for family in self.families):
            used.append(self.endpoint("judge"))
        models = [
            (self.memory_overrides.get(name) or {}).get("model") or self.memory_llm_model
            for name in self.memories
            if registry.memory_class(name).needs_llm
        ]
        used += [self.endpoint("memory", model) for model in dict.fromkeys(models)]
        return used

    @property
    def families(self) -> list[str]:
        """The task families of the selected tasks, in order."""
        return list(dict.fromkeys(t.family for t in self.tasks))

    def to_json(self) -> dict:
        """Everything that defines the run's results. Secrets never enter it: API keys come from the
        environment at call time, and the base URL and secret options (URLs with a password) are redacted."""
        described = {
            "mode": self.mode,
            "params": self.params.of(self.mode),
            "memories": list(self.memories),
            "tasks": [t.name for t in self.tasks],
            "seeds": list(self.seeds),
            "shuffle": self.shuffle,
            "limit": self.limit,
            "model": self.model,
            "base_url": redact_url(self.base_url),
            "judge_model": self.judge_model,
            "judge_base_url": redact_url(self.judge_base_url),
            "memory_model": self.memory_llm_model,
            "memory_base_url": redact_url(self.memory_base_url),
            "data_dir": str(self.data_dir) if self.data_dir else None,
            "embedding_model": self.embedding_model,
            "embedding_runtime": self.embedding_runtime,
            "memory_config": str(self.memory_config) if self.memory_config else None,
            "memory_overrides": self.memory_overrides,
        }
        for values in self.task_options.values():
            for name, value in values.items():
                described[name] = redact_url(value) if options.spec(name).secret else value
        return described

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:12]


def _memory_overrides(path: Path | None, accepted: dict, fail) -> dict:
    """The --amb-memory-config sections, each checked against its mechanism's documented parameters."""
    from pytest_amb import memory_config

    try:
        overrides = memory_config.read_override_file(path)
        for name, section in overrides.items():
            if name not in accepted:
                fail(f"{path}: '{name}' is not a memory mechanism; accepted: {', '.join(accepted)}")
            memory_config.resolve(name, memory_config.defaults(name), section, str(path))
    except memory_config.MemoryConfigError as exc:
        fail(str(exc).removeprefix("--amb-memory-config: "))
    return overrides


def _unusable_dir(path: Path) -> str | None:
    """Why ``path`` cannot be (or become) a directory this process writes in, else None."""
    if path.exists():
        if not path.is_dir():
            return f"'{path}' is a file, not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else f"'{path}' is not writable"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"'{path}' cannot be created: '{parent}' is a file, not a directory"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"'{path}' cannot be created: '{parent}' is not writable"


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def named_families(pytest_config) -> dict[str, str]:
    """The task families whose folders the command line's own arguments name (not ``testpaths``): family ->
    the argument (``registry.families_named``)."""
    if pytest_config.args_source != pytest_config.ArgsSource.ARGS:
        return {}
    from pytest_amb import registry

    return registry.families_named(pytest_config.args, pytest_config.invocation_params.dir,
                                   bool(pytest_config.getoption("pyargs", False)))  # fmt: skip


def resolve(raw: dict[str, RawValue], rootdir: Path, named: dict[str, str] | None = None) -> RunConfig:
    """``named``: the task families whose folders the command line names (``named_families``). With --amb-task
    at its default they are the run's tasks (the path says what to run); a --amb-task that was set must select
    at least one of them (naming several modules and selecting one family's task is fine)."""

    def fail(name: str, message: str):
        raise ConfigError(f"{describe(options.spec(name), raw[name].source)}: {message}")

    def declared(spec):
        """A declared option's value, parsed by its own parser (modes' and task families' options)."""
        try:
            return spec.parse(raw[spec.name].value)
        except ValueError as exc:
            fail(spec.name, str(exc))

    mode = (raw["mode"].value or "").strip()
    if mode not in MODES:
        fail("mode", f"'{mode}' is not accepted; accepted: {', '.join(MODES)}")

    from pytest_amb import registry

    memory_names = _list(raw["memory"].value)
    accepted = registry.memory_names()
    if not memory_names:
        fail("memory", f"empty; accepted: {', '.join(registry.listed_memory_names())}")
    for name in memory_names:
        if name not in accepted:
            fail("memory", f"'{name}' is not accepted; accepted: {', '.join(registry.listed_memory_names())}")

    memory_config = Path(raw["memory_config"].value).expanduser() if raw["memory_config"].value else None
    if memory_config is not None and memory_config.is_dir():
        fail("memory_config", f"'{memory_config}' is a directory, not a YAML file")
    memory_overrides = _memory_overrides(memory_config, accepted, lambda message: fail("memory_config", message))
    if len(set(memory_names)) != len(memory_names):
        fail("memory", "a memory is named twice")

    data_dir = Path(raw["data_dir"].value).expanduser() if raw["data_dir"].value else None
    if data_dir is not None and not data_dir.is_dir():
        fail("data_dir", f"'{data_dir}' is not a directory")

    from pytest_amb.tasks import TaskNameError

    named = named or {}
    task_names = _list(raw["task"].value)
    task_source = raw["task"].source
    if named and task_source == "default" and list(named) != task_names:
        task_names, task_source = list(named), "path"
    if not task_names:
        fail("task", "empty; name at least one task")
    tasks = []
    for name in task_names:
        try:
            tasks.append(registry.catalog().resolve(name, data_dir))
        except TaskNameError as exc:
            if task_source == "path":
                raise ConfigError(f"{named[name]} selects the task '{name}': {exc}") from None
            fail("task", str(exc))
    unselected = [family for family in named if family not in {t.family for t in tasks}]
    if named and len(unselected) == len(named):  # nothing the command line names would run: "0 selected"
        wanted = ",".join(unselected)
        fail("task", f"'{raw['task'].value}' runs no step of {', '.join(named[f] for f in unselected)} (task family "
                     f"{', '.join(repr(f) for f in unselected)}): --amb-task={wanted} would, or "
                     f"--amb-task={','.join([*task_names, *unselected])} to run them together")  # fmt: skip

    seeds = []
    for part in _list(raw["seed"].value):
        try:
            seeds.append(int(part))
        except ValueError:
            fail("seed", f"'{part}' is not an integer; give an integer or a comma-separated list")
    if not seeds:
        fail("seed", "empty; give an integer")

    def boolean(name: str) -> bool:
        try:
            return parse_bool(raw[name].value)
        except ValueError as exc:
            fail(name, str(exc))

    shuffle = boolean("shuffle")
    fail_unsolved = boolean("fail_unsolved")
    preflight = boolean("preflight")
    plots = boolean("plots")
    embedding_cache = boolean("embedding_cache")
    embed_ahead = boolean("embed_ahead")
    reference_memory = (raw["reference_memory"].value or "").strip() or memory_names[0]
    if reference_memory not in memory_names:
        fail("reference_memory", f"'{reference_memory}' is not one of this run's memories ({', '.join(memory_names)})")
    gate_scope = (raw["gate_scope"].value or "").strip()
    if gate_scope not in ("memory", "stream"):
        fail("gate_scope", f"'{gate_scope}' is not accepted; accepted: memory, stream")
    params = ModeParams(**{spec.name: declared(spec) for m in modes().values() for spec in m.params})
    for other in modes().values():
        for name, hint in other.only_here.items():
            if other.name != mode and getattr(params, name):
                fail(name, f"applies to {other.name} mode only (mode is '{mode}'); {hint}")

    for family in registry.task_families().values():  # secret values are redacted from now on, wherever they appear
        for spec in family.options:
            if spec.secret:
                register_option_value(raw[spec.name].value)
    selected = {t.family for t in tasks}
    task_options = {}
    for family in registry.task_families().values():
        values = {spec.name: declared(spec) for spec in family.options}  # every family's: a typo never hides
        if family.name in selected:
            task_options[family.name] = values

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
    register_url(base_url)  # its password is redacted wherever it could be printed or written
    if base_url and not base_url.startswith(("http://", "https://")):
        fail("base_url", f"'{redact_url(base_url)}' is not an http(s) URL")
    def endpoint_url(name: str, role_model: str, model_option: str) -> str | None:
        """A role's endpoint: its own URL option, else the agent's; none for a model that runs inside pytest-amb."""
        own = (raw[name].value or "").strip() or None
        register_url(own)
        if role_model in LOCAL_MODELS:
            if own:
                fail(name, f"'{role_model}' runs inside pytest-amb and needs no endpoint; remove it or name a real "
                           f"model with --amb-{model_option.replace('_', '-')}")  # fmt: skip
            return None
        url = own or base_url
        if not url:
            agents = "" if model in LOCAL_MODELS else " or --amb-base-url"  # a local agent takes no URL
            fail(model_option, f"'{role_model}' needs an endpoint: pass --amb-{name.replace('_', '-')}{agents}")
        if not url.startswith(("http://", "https://")):
            fail(name if own else "base_url", f"'{redact_url(url)}' is not an http(s) URL")
        return url

    judge_model = (raw["judge_model"].value or "").strip() or (REFERENCE_MODEL if model == ORACLE_MODEL else model)
    if judge_model == ORACLE_MODEL:
        fail("judge_model", "'oracle' cannot judge; use 'reference' or a real model")
    judge_base_url = endpoint_url("judge_base_url", judge_model, "judge_model")
    memory_model = (raw["memory_model"].value or "").strip() or None
    if memory_model == ORACLE_MODEL:
        fail("memory_model", "'oracle' writes no prompts; use 'reference' or a real model")
    memory_base_url = (raw["memory_base_url"].value or "").strip() or None  # else the agent's
    register_url(memory_base_url)
    if memory_base_url and not memory_base_url.startswith(("http://", "https://")):
        fail("memory_base_url", f"'{redact_url(memory_base_url)}' is not an http(s) URL")
    memory_models = {REFERENCE_MODEL if (memory_model or model) == ORACLE_MODEL else (memory_model or model)}
    memory_models |= {(section or {}).get("model") for section in memory_overrides.values()} - {None, ""}
    for needs_url in sorted(memory_models - set(LOCAL_MODELS)):
        if not (memory_base_url or base_url):
            fail("memory_base_url", f"the memory model '{needs_url}' needs an endpoint: pass --amb-memory-base-url")
    if memory_base_url and not memory_models - set(LOCAL_MODELS):
        fail("memory_base_url", f"the memories' model '{next(iter(memory_models))}' runs inside pytest-amb and needs "
                                "no endpoint; remove it or name a real model with --amb-memory-model")  # fmt: skip

    run_dir = Path(raw["run_dir"].value or "reports/runs").expanduser()
    if not run_dir.is_absolute():
        run_dir = rootdir / run_dir
    problem = _unusable_dir(run_dir)
    if problem:
        fail("run_dir", problem)

    embedding_model = (raw["embedding_model"].value or "").strip()
    if not embedding_model:
        fail("embedding_model", "empty; give a sentence-transformers model name or path")

    embedding_runtime = (raw["embedding_runtime"].value or "").strip() or "auto"
    if embedding_runtime not in EMBEDDING_RUNTIMES:
        fail("embedding_runtime", f"'{embedding_runtime}' is not accepted; accepted: {', '.join(EMBEDDING_RUNTIMES)}")

    container_engine = (raw["container_engine"].value or "").strip() or "auto"
    if container_engine not in ("auto", "docker", "podman") and "://" not in container_engine:
        fail("container_engine", f"'{container_engine}' is not accepted; accepted: auto, docker, podman, or a URL")

    resume = (raw["resume"].value or "").strip() or None
    reference_latency = non_negative("reference_latency", float, "give seconds >= 0")
    if not math.isfinite(reference_latency):
        fail("reference_latency", f"'{raw['reference_latency'].value}' is not accepted; give finite seconds >= 0")
    llm_deadline = non_negative("llm_deadline", float, "give seconds > 0")
    if not math.isfinite(llm_deadline) or llm_deadline <= 0:
        fail("llm_deadline", f"'{raw['llm_deadline'].value}' is not accepted; give finite seconds > 0")
    llm_breaker = non_negative("llm_breaker", int, "give a whole number of failed calls (0 = never)")

    from pytest_amb.llm import cache as response_cache

    cache = (raw["cache"].value or "auto").strip().lower()
    if cache != "auto":
        try:
            response_cache.parse_mode(cache)
        except ValueError:
            fail("cache", f"'{raw['cache'].value}' is not accepted; accepted: auto, off, read, write, readwrite")
    cache_dir = Path(raw["cache_dir"].value).expanduser() if raw["cache_dir"].value else None
    if cache_dir is not None and not cache_dir.is_absolute():
        cache_dir = rootdir / cache_dir
    cache_dir = cache_dir or response_cache.default_directory()
    prices = Path(raw["prices"].value).expanduser() if raw["prices"].value else None
    if prices is not None:
        from pytest_amb.llm.pricing import PriceFileError, PriceTable

        try:
            PriceTable.load(prices)
        except (PriceFileError, OSError) as exc:
            fail("prices", str(exc))
    budget = None
    if (raw["budget"].value or "").strip():
        budget = non_negative("budget", float, "give an amount in USD > 0")
        if not math.isfinite(budget) or budget <= 0:
            fail("budget", f"'{raw['budget'].value}' is not accepted; give an amount in USD > 0")

    config = RunConfig(
        mode=mode,
        memories=tuple(memory_names),
        tasks=tuple(tasks),
        seeds=tuple(seeds),
        shuffle=shuffle,
        limit=limit,
        model=model,
        base_url=base_url,
        judge_model=judge_model,
        judge_base_url=judge_base_url,
        memory_model=memory_model,
        memory_base_url=memory_base_url,
        cache=cache,
        cache_dir=cache_dir,
        prices=prices,
        budget=budget,
        preflight=preflight,
        plots=plots,
        data_dir=data_dir,
        run_dir=run_dir,
        embedding_model=embedding_model,
        embedding_runtime=embedding_runtime,
        embedding_cache=embedding_cache,
        embed_ahead=embed_ahead,
        container_engine=container_engine,
        resume=resume,
        reference_latency=reference_latency,
        llm_deadline=llm_deadline,
        llm_breaker=llm_breaker,
        reference_memory=reference_memory,
        gate_scope=gate_scope,
        fail_unsolved=fail_unsolved,
        memory_config=memory_config,
        memory_overrides=memory_overrides,
        params=params,
        task_options=task_options,
        sources={name: value.source for name, value in raw.items()} | {"task": task_source},
    )
    if cache in ("write", "readwrite") or (cache == "auto" and any(e.real for e in config.endpoints())):
        problem = _unusable_dir(cache_dir)  # only where the cache will write: auto is off for the reference model
        if problem:
            fail("cache_dir", f"{problem}; give a writable folder or --amb-cache=off")
    if budget is not None:
        from pytest_amb.budget import unpriced_models
        from pytest_amb.llm.pricing import PriceTable

        unpriced = unpriced_models([e.model for e in config.endpoints() if e.real], PriceTable.load(prices))
        if unpriced:
            fail("budget", f"no price is known for the model '{unpriced[0]}', so no budget can be kept: add its price "
                           f"with --amb-prices FILE (see docs/cost.md)")  # fmt: skip
    return config
