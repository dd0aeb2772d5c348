"""The endpoint of each role (agent, judge, memory) and the LLM layer's options as RunConfig resolves them from raw
option values (issue 16): URLs per role and their defaults, what is refused in one line naming the option, key
variables per role, what an endpoint shows of itself, and which endpoints a run uses."""

from __future__ import annotations

import json

import pytest

from pytest_amb import options
from pytest_amb.config import ConfigError, RunConfig, resolve
from pytest_amb.llm.endpoints import Endpoint
from pytest_amb.options import RawValue

AGENT_URL = "http://127.0.0.1:9001/v1"
JUDGE_URL = "http://127.0.0.1:9002/v1"
MEMORY_URL = "http://127.0.0.1:9003/v1"


@pytest.fixture
def configure(tmp_path):
    """configure(option=value, ...) -> RunConfig: every other option at its default, as the plugin reads them."""

    def build(**given: str) -> RunConfig:
        raw = {spec.name: RawValue(spec.default, "default") for spec in options.all_specs()}
        raw["run_dir"] = RawValue(str(tmp_path / "runs"), "cli")
        raw["cache_dir"] = RawValue(str(tmp_path / "cache"), "cli")
        for name, value in given.items():
            raw[name] = RawValue(value, "cli")
        return resolve(raw, tmp_path)

    return build


@pytest.fixture
def refused(configure):
    """refused(option=value, ...) -> the ConfigError's message, checked to be one line."""

    def build(**given: str) -> str:
        with pytest.raises(ConfigError) as caught:
            configure(**given)
        message = str(caught.value)
        assert "\n" not in message and "Traceback" not in message
        return message

    return build


def roles(config: RunConfig) -> dict[str, tuple[str, str | None]]:
    return {e.role: (e.model, e.base_url) for e in config.endpoints()}


# -- the judge's endpoint -----------------------------------------------------------------------------------------
def test_the_judge_has_its_own_url(configure):
    config = configure(model="gpt-4o-mini", base_url=AGENT_URL, judge_model="gpt-4.1", judge_base_url=JUDGE_URL)
    assert config.endpoint("judge") == Endpoint("judge", "gpt-4.1", JUDGE_URL)
    assert config.endpoint("agent") == Endpoint("agent", "gpt-4o-mini", AGENT_URL)
    assert config.to_json()["judge_base_url"] == JUDGE_URL


def test_the_judge_defaults_to_the_agents_model_and_url(configure):
    config = configure(model="gpt-4o-mini", base_url=AGENT_URL)
    assert config.endpoint("judge") == Endpoint("judge", "gpt-4o-mini", AGENT_URL)
    config = configure(model="gpt-4o-mini", base_url=AGENT_URL, judge_model="gpt-4.1")
    assert config.endpoint("judge") == Endpoint("judge", "gpt-4.1", AGENT_URL)


def test_a_real_judge_of_the_reference_agent_on_its_own_url(configure):
    config = configure(judge_model="gpt-4.1", judge_base_url=JUDGE_URL)
    assert roles(config) == {"agent": ("reference", None), "judge": ("gpt-4.1", JUDGE_URL)}


def test_the_reference_judge_has_no_url(configure):
    config = configure(model="gpt-4o-mini", base_url=AGENT_URL, judge_model="reference")
    assert config.endpoint("judge") == Endpoint("judge", "reference", None)
    assert not config.endpoint("judge").real


def test_a_judge_url_for_the_reference_judge_is_refused_naming_the_option(refused):
    message = refused(judge_base_url="http://user:judge-Passw0rd@127.0.0.1:9002/v1")
    assert message.startswith("--amb-judge-base-url (from --amb-judge-base-url): 'reference'")
    assert "needs no endpoint" in message and "--amb-judge-model" in message
    assert "judge-Passw0rd" not in message
    message = refused(model="gpt-4o-mini", base_url=AGENT_URL, judge_model="reference", judge_base_url=JUDGE_URL)
    assert message.startswith("--amb-judge-base-url")


def test_a_real_judge_of_the_reference_agent_without_a_url_is_refused(refused):
    message = refused(judge_model="gpt-4.1")
    assert message.startswith("--amb-judge-model (from --amb-judge-model): 'gpt-4.1' needs an endpoint")
    assert "--amb-judge-base-url" in message


def test_the_fix_offered_to_a_real_judge_of_the_reference_agent_is_one_that_works(refused):
    assert "--amb-base-url" not in refused(judge_model="gpt-4.1")


def test_a_judge_url_that_is_not_http_is_refused_with_its_password_redacted(refused):
    message = refused(model="gpt-4o-mini", base_url=AGENT_URL, judge_base_url="ftp://user:judge-Passw0rd@host/v1")
    assert message.startswith("--amb-judge-base-url")
    assert "'ftp://user:***@host/v1' is not an http(s) URL" in message


def test_the_oracle_cannot_judge(refused):
    assert refused(judge_model="oracle").startswith("--amb-judge-model")


# -- the memories' endpoint ---------------------------------------------------------------------------------------
def test_the_memory_model_on_its_own_url(configure):
    config = configure(memory="mem0", memory_model="gpt-4.1-mini", memory_base_url=MEMORY_URL)
    assert config.endpoint("memory") == Endpoint("memory", "gpt-4.1-mini", MEMORY_URL)
    assert config.to_json()["memory_model"] == "gpt-4.1-mini"
    assert config.to_json()["memory_base_url"] == MEMORY_URL


def test_the_memory_model_defaults_to_the_agents_model_and_url(configure):
    config = configure(memory="mem0", model="gpt-4o-mini", base_url=AGENT_URL)
    assert config.endpoint("memory") == Endpoint("memory", "gpt-4o-mini", AGENT_URL)
    config = configure(memory="mem0", model="gpt-4o-mini", base_url=AGENT_URL, memory_model="gpt-4.1-mini")
    assert config.endpoint("memory") == Endpoint("memory", "gpt-4.1-mini", AGENT_URL)


def test_the_memory_of_an_oracle_run_is_the_reference_model(configure):
    config = configure(memory="mem0", model="oracle")
    assert config.endpoint("memory") == Endpoint("memory", "reference", None)


def test_a_real_memory_model_of_the_reference_agent_without_a_url_is_refused(refused):
    message = refused(memory="mem0", memory_model="gpt-4.1-mini")
    assert message.startswith("--amb-memory-base-url") and "'gpt-4.1-mini' needs an endpoint" in message


@pytest.mark.parametrize(
    ("value", "option"), [("oracle", "--amb-memory-model"), ("ftp://h/v1", "--amb-memory-base-url")]
)
def test_a_bad_memory_model_or_url_is_refused_naming_the_option(refused, value, option):
    given = {"memory_model": value} if option == "--amb-memory-model" else {"memory_base_url": value}
    assert refused(memory="mem0", **given).startswith(option)


def test_a_mechanisms_own_model_gets_an_endpoint_of_its_own(configure, tmp_path):
    overrides = tmp_path / "memories.yaml"
    overrides.write_text("mem0:\n  model: gpt-4.1-nano\n")
    config = configure(memory="mem0,awm_pro", model="gpt-4o-mini", base_url=AGENT_URL, memory_base_url=MEMORY_URL,
                       memory_config=str(overrides))  # fmt: skip
    memories = [(e.model, e.base_url) for e in config.endpoints() if e.role == "memory"]
    assert memories == [("gpt-4.1-nano", MEMORY_URL), ("gpt-4o-mini", MEMORY_URL)]


def test_a_mechanisms_empty_model_means_the_agents_model(configure, tmp_path):
    overrides = tmp_path / "memories.yaml"
    overrides.write_text("mem0:\n  model: ''\n")
    config = configure(memory="mem0", memory_config=str(overrides))
    assert config.endpoint("memory") == Endpoint("memory", "reference", None)


# -- keys per role ------------------------------------------------------------------------------------------------
KEYS = {"AMB_API_KEY": "sk-agent-111111", "OPENAI_API_KEY": "sk-openai-222222",
        "AMB_JUDGE_API_KEY": "sk-judge-333333", "AMB_MEMORY_API_KEY": "sk-memory-444444"}  # fmt: skip


@pytest.mark.parametrize(
    ("role", "set_", "variable"),
    [
        ("agent", KEYS, "AMB_API_KEY"),
        ("agent", {"OPENAI_API_KEY": "sk-openai-222222", "AMB_JUDGE_API_KEY": "sk-judge-333333"}, "OPENAI_API_KEY"),
        ("judge", KEYS, "AMB_JUDGE_API_KEY"),
        ("judge", {k: v for k, v in KEYS.items() if k != "AMB_JUDGE_API_KEY"}, "AMB_API_KEY"),
        ("judge", {"OPENAI_API_KEY": "sk-openai-222222", "AMB_MEMORY_API_KEY": "x" * 9}, "OPENAI_API_KEY"),
        ("judge", {**KEYS, "AMB_JUDGE_API_KEY": ""}, "AMB_API_KEY"),  # set but empty: not a key
        ("memory", KEYS, "AMB_MEMORY_API_KEY"),
        ("memory", {"AMB_API_KEY": "sk-agent-111111", "AMB_JUDGE_API_KEY": "sk-judge-333333"}, "AMB_API_KEY"),
        ("memory", {}, None),
    ],
)
def test_each_role_reads_its_own_key_variable_and_falls_back_to_the_agents(role, set_, variable):
    endpoint = Endpoint(role, "gpt-4o-mini", AGENT_URL)
    assert endpoint.key_variable(set_) == variable
    assert endpoint.api_key(set_) == (set_[variable] if variable else None)


def test_an_endpoint_shows_its_key_variable_and_redacted_url_never_the_key_or_password():
    endpoint = Endpoint("judge", "gpt-4.1", "https://judge-user:judge-Passw0rd-9@llm.example.com/v1")
    shown = endpoint.to_json(KEYS)
    assert shown == {"role": "judge", "model": "gpt-4.1", "base_url": "https://judge-user:***@llm.example.com/v1",
                     "key_variable": "AMB_JUDGE_API_KEY"}  # fmt: skip
    text = json.dumps(shown)
    assert "judge-Passw0rd-9" not in text
    assert not any(key in text for key in KEYS.values())


def test_a_model_inside_pytest_amb_shows_no_key_variable():
    assert Endpoint("judge", "reference", None).to_json(KEYS) == {
        "role": "judge", "model": "reference", "base_url": None, "key_variable": None}  # fmt: skip


def test_the_run_config_holds_no_key(configure, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = configure(model="gpt-4o-mini", base_url=AGENT_URL, judge_base_url=JUDGE_URL, memory="mem0",
                       memory_base_url=MEMORY_URL)  # fmt: skip
    text = repr(config) + json.dumps(config.to_json()) + json.dumps([e.to_json() for e in config.endpoints()])
    assert not any(key in text for key in KEYS.values())


# -- the cache, the prices, the budget --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["auto", "off", "read", "write", "readwrite", "READ"])
def test_the_cache_modes_are_accepted(configure, mode):
    assert configure(cache=mode).cache == mode.lower()


@pytest.mark.parametrize("value", ["on", "yes", "read-write", "rw"])
def test_a_bad_cache_mode_is_refused_naming_the_accepted_ones(refused, value):
    message = refused(cache=value)
    assert message.startswith("--amb-cache (from --amb-cache)")
    assert f"'{value}'" in message and "auto, off, read, write, readwrite" in message


def test_a_cache_folder_that_cannot_be_created_is_refused_unless_the_cache_is_off_or_read(configure, refused, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    blocked = str(tmp_path / "a-file" / "cache")
    message = refused(model="gpt-4o-mini", base_url=AGENT_URL, cache="readwrite", cache_dir=blocked)
    assert message.startswith("--amb-cache-dir") and "--amb-cache=off" in message
    assert configure(cache="off", cache_dir=blocked).cache == "off"
    assert configure(cache="read", cache_dir=blocked).cache == "read"


def test_auto_with_only_the_reference_model_does_not_need_a_cache_folder(configure, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    assert configure(cache_dir=str(tmp_path / "a-file" / "cache")).cache == "auto"


def test_a_relative_cache_folder_is_under_the_rootdir(configure, tmp_path):
    assert configure(cache_dir="llm-cache").cache_dir == tmp_path / "llm-cache"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "0.0"])
def test_a_budget_that_is_no_positive_amount_is_refused(refused, value):
    message = refused(model="gpt-4o-mini", base_url=AGENT_URL, budget=value)
    assert message.startswith("--amb-budget (from --amb-budget)")
    assert f"'{value}' is not accepted" in message and "USD > 0" in message


def test_a_budget_is_an_amount_in_usd(configure):
    assert configure(model="gpt-4o-mini", base_url=AGENT_URL, budget="2.50").budget == 2.5
    assert configure().budget is None


def test_a_budget_with_a_model_without_a_price_is_refused_naming_the_prices_option(refused):
    message = refused(model="my-local-llm", base_url=AGENT_URL, budget="1")
    assert message.startswith("--amb-budget")
    assert "'my-local-llm'" in message and "--amb-prices" in message


def test_a_budget_checks_the_judges_and_the_memories_models_too(refused):
    judged = refused(model="gpt-4o-mini", base_url=AGENT_URL, judge_model="judge-llm", budget="1")
    assert "'judge-llm'" in judged and "--amb-prices" in judged
    remembered = refused(model="gpt-4o-mini", base_url=AGENT_URL, memory="mem0", memory_model="memory-llm", budget="1")
    assert "'memory-llm'" in remembered


def test_a_budget_for_a_model_priced_in_a_price_file_is_accepted(configure, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"my-local-llm": {"input": 0.1, "output": 0.2}}}))
    config = configure(model="my-local-llm", base_url=AGENT_URL, budget="1", prices=str(prices))
    assert (config.budget, config.prices) == (1.0, prices)


def test_a_budget_with_only_the_reference_model_needs_no_price(configure):
    assert configure(budget="0.5").budget == 0.5


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON (line 1, column 2)"),
        ('{"models": {"m": {"input": 0.1}}}', "model 'm': field 'output' is missing"),
        ('{"models": {"m": {"input": -1, "output": 1}}}', "field 'input' must be a number >= 0"),
        ('{"currency": "EUR", "models": {}}', "field 'currency' must be USD"),
    ],
)
def test_a_broken_price_file_is_refused_naming_file_and_problem(refused, tmp_path, content, expected):
    prices = tmp_path / "prices.json"
    prices.write_text(content)
    message = refused(prices=str(prices))
    assert message.startswith(f"--amb-prices (from --amb-prices): {prices}: ")
    assert expected in message


def test_a_missing_price_file_is_refused(refused, tmp_path):
    message = refused(prices=str(tmp_path / "nowhere.json"))
    assert message.startswith("--amb-prices") and "cannot read the price file" in message


# -- which endpoints a run uses -------------------------------------------------------------------------------------
def test_the_judge_is_listed_only_when_a_selected_family_uses_it(configure):
    real = {"model": "gpt-4o-mini", "base_url": AGENT_URL, "judge_base_url": JUDGE_URL}
    assert roles(configure(task="locomo", **real)) == {"agent": ("gpt-4o-mini", AGENT_URL),
                                                       "judge": ("gpt-4o-mini", JUDGE_URL)}  # fmt: skip
    assert roles(configure(task="dbbench", **real)) == {"agent": ("gpt-4o-mini", AGENT_URL)}
    assert "judge" in roles(configure(task="dbbench,locomo", **real))


def test_the_memory_is_listed_only_when_a_selected_memory_makes_llm_calls(configure):
    real = {"model": "gpt-4o-mini", "base_url": AGENT_URL, "memory_base_url": MEMORY_URL, "task": "dbbench"}
    assert "memory" not in roles(configure(memory="stream_icl", **real))
    assert roles(configure(memory="stream_icl,mem0", **real))["memory"] == ("gpt-4o-mini", MEMORY_URL)


def test_the_default_run_uses_only_models_inside_pytest_amb(configure):
    assert not any(e.real for e in configure().endpoints())


def test_to_json_redacts_every_roles_url_password(configure):
    config = configure(model="gpt-4o-mini", base_url="http://a:agent-Passw0rd@127.0.0.1:9001/v1",
                       judge_base_url="http://j:judge-Passw0rd@127.0.0.1:9002/v1", memory="mem0",
                       memory_base_url="http://m:memory-Passw0rd@127.0.0.1:9003/v1")  # fmt: skip
    described = json.dumps(config.to_json())
    assert not any(p in described for p in ("agent-Passw0rd", "judge-Passw0rd", "memory-Passw0rd"))
    assert "j:***@127.0.0.1:9002" in described and "m:***@127.0.0.1:9003" in described


class _NoCommandLine:
    """pytest's config as read_raw sees it when no option is on the command line or in the ini file (the options'
    command-line precedence is pytest's, not what these tests are about)."""

    def getoption(self, dest, default=None):
        return default

    def getini(self, name):
        return None


def test_the_per_role_options_come_from_their_environment_variables_too(tmp_path):
    environ = {"AMB_MODEL": "gpt-4o-mini", "AMB_BASE_URL": AGENT_URL, "AMB_JUDGE_BASE_URL": JUDGE_URL,
               "AMB_MEMORY_MODEL": "gpt-4.1-mini", "AMB_MEMORY_BASE_URL": MEMORY_URL, "AMB_MEMORY": "mem0",
               "AMB_CACHE": "read", "AMB_PREFLIGHT": "false", "AMB_RUN_DIR": str(tmp_path / "runs")}  # fmt: skip
    config = resolve(options.read_raw(_NoCommandLine(), environ), tmp_path)
    assert roles(config) == {"agent": ("gpt-4o-mini", AGENT_URL), "judge": ("gpt-4o-mini", JUDGE_URL),
                             "memory": ("gpt-4.1-mini", MEMORY_URL)}  # fmt: skip
    assert (config.cache, config.preflight) == ("read", False)
    with pytest.raises(ConfigError, match=r"^--amb-budget \(from AMB_BUDGET\): 'lots' is not accepted"):
        resolve(options.read_raw(_NoCommandLine(), {**environ, "AMB_BUDGET": "lots"}), tmp_path)


def test_a_bad_preflight_value_is_refused(refused):
    assert refused(preflight="sometimes").startswith("--amb-preflight")


def test_preflight_can_be_turned_off(configure):
    assert configure(preflight="false").preflight is False
    assert configure().preflight is True
