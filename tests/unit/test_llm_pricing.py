"""Prices and costs of LLM calls (pytest_amb.llm.pricing): the bundled table, user files, sums over ledger calls."""

import json
from datetime import date

import pytest

from pytest_amb.llm import pricing
from pytest_amb.llm.client import CallRecord
from pytest_amb.llm.pricing import Price, PriceFileError, PriceTable


def write(tmp_path, data, name="prices.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# -- the bundled table --------------------------------------------------------------------------------------
def test_every_bundled_price_has_a_source_and_a_date():
    data = json.loads(pricing.BUNDLED.read_text(encoding="utf-8"))
    assert data["currency"] == "USD" and len(data["models"]) >= 5
    for model, entry in data["models"].items():
        if model == "reference":  # pytest-amb's own loopback model: free, no published price
            assert entry["input"] == entry["output"] == 0 and "reference model" in entry["source"]
            continue
        assert entry["source"].startswith("https://"), model
        assert date(2024, 1, 1) <= date.fromisoformat(entry["as_of"]) <= date.today(), model
        assert 0 < entry["input"] <= entry["output"], model
        assert entry.get("cached_input", entry["input"]) <= entry["input"], model


def test_known_models_cost_their_list_price():
    assert pricing.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)
    assert pricing.cost("gpt-4o-mini-2024-07-18", 2_000, 500) == pytest.approx((2_000 * 0.15 + 500 * 0.60) / 1e6)
    assert pricing.cost("gpt-4.1", 1_000, 0) == pytest.approx(0.002)


def test_cached_prompt_tokens_are_billed_at_the_cached_rate_or_else_as_input():
    assert pricing.cost("gpt-4o", 1_000_000, 0, cached=400_000) == pytest.approx(0.6 * 2.5 + 0.4 * 1.25)
    assert pricing.cost("gpt-3.5-turbo", 1_000_000, 0, cached=400_000) == pytest.approx(0.5)  # no cached rate


def test_an_unknown_model_costs_none_never_zero():
    assert pricing.cost("my-local-llama", 1_000, 1_000) is None
    assert pricing.cost("GPT-4O-MINI", 1, 1) is None  # exact names only: a guessed price is worse than none
    assert pricing.cost("openai/gpt-4o-mini", 1, 1) is None


@pytest.mark.parametrize(
    ("tokens", "words"),
    [((-1, 0, 0), "prompt tokens"), ((10, 1.5, 0), "completion tokens"), ((10, 0, 11), "exceed"),
     ((True, 0, 0), "prompt tokens")],
)  # fmt: skip
def test_impossible_token_counts_are_refused(tokens, words):
    with pytest.raises(ValueError, match=words):
        pricing.cost("gpt-4o-mini", *tokens)


# -- user files ---------------------------------------------------------------------------------------------
def test_a_user_file_extends_and_overrides_the_table(tmp_path):
    path = write(tmp_path, {"models": {
        "my-local-llama": {"input": 0, "output": 0},
        "gpt-4o-mini": {"input": 0.2, "output": 0.8, "cached_input": 0.1, "source": "our contract",
                        "as_of": "2025-09-01"},
    }})  # fmt: skip
    table = PriceTable.load(path)
    assert table.cost("my-local-llama", 10_000, 10_000) == 0.0  # explicitly free is known, not unknown
    assert table.cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.2)
    assert table.price("gpt-4o-mini").source == "our contract"
    # the snapshot alias of the bundled entry keeps its own (bundled) price
    assert table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert table.cost("gpt-4.1", 1_000_000, 0) == pytest.approx(2.0)
    assert PriceTable.bundled().cost("my-local-llama", 1, 1) is None  # the bundled table is not changed


def test_a_yaml_user_file_reads_the_same(tmp_path):
    path = write(tmp_path, "models:\n  vllm-qwen:\n    input: 0.05\n    output: 0.1\n    as_of: 2025-09-01\n"
                           "    aliases: [Qwen/Qwen2.5-7B-Instruct]\n", "prices.yaml")  # fmt: skip
    table = PriceTable.load(path)
    assert table.cost("Qwen/Qwen2.5-7B-Instruct", 1_000_000, 1_000_000) == pytest.approx(0.15)
    assert table.price("vllm-qwen").as_of == "2025-09-01"


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        ('{"models": {', "p.json", "not valid JSON (line 1, column 13)"),
        ("models: [1, 2\n", "p.yaml", "not valid YAML (line 2"),
        ("[]", "p.json", "must be an object with a 'models' object"),
        ({"model": {}}, "p.json", "unknown field 'model'"),
        ({"currency": "EUR", "models": {}}, "p.json", "field 'currency' must be USD"),
        ({"models": []}, "p.json", "field 'models' must be an object"),
        ({"models": {"m": 3}}, "p.json", "model 'm': the entry must be an object"),
        ({"models": {"m": {"output": 1}}}, "p.json", "model 'm': field 'input' is missing"),
        ({"models": {"m": {"input": -1, "output": 1}}}, "p.json", "model 'm': field 'input' must be a number >= 0"),
        ({"models": {"m": {"input": "1", "output": 1}}}, "p.json", "model 'm': field 'input' must be a number"),
        ({"models": {"m": {"input": 1, "output": True}}}, "p.json", "model 'm': field 'output' must be a number"),
        ({"models": {"m": {"input": 1, "ouput": 1}}}, "p.json", "model 'm': unknown field 'ouput'"),
        ({"models": {"m": {"input": 1, "output": 1, "as_of": "May 2025"}}}, "p.json", "model 'm': field 'as_of'"),
        ({"models": {"m": {"input": 1, "output": 1, "source": ""}}}, "p.json", "model 'm': field 'source'"),
        ({"models": {"m": {"input": 1, "output": 1, "aliases": "n"}}}, "p.json", "model 'm': field 'aliases'"),
        (
            {"models": {"m": {"input": 1, "output": 1}, "n": {"input": 1, "output": 1, "aliases": ["m"]}}},
            "p.json",
            "model 'n': the name 'm' is priced twice",
        ),
    ],
)
def test_a_bad_price_file_is_one_line_naming_file_model_and_field(tmp_path, content, name, words):
    path = write(tmp_path, content, name)
    with pytest.raises(PriceFileError) as raised:
        PriceTable.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message
    assert isinstance(raised.value, ValueError)


def test_a_missing_price_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"absent.json: cannot read the price file: No such file"):
        PriceTable.load(tmp_path / "absent.json")


def test_the_bundled_table_requires_provenance_and_user_files_do_not(tmp_path):
    path = write(tmp_path, {"models": {"m": {"input": 1, "output": 2}}})
    assert pricing.read_prices(path)["m"] == Price("m", 1.0, 2.0)
    with pytest.raises(PriceFileError, match="model 'm': field 'source' is missing"):
        pricing.read_prices(path, require_provenance=True)


# -- sums over ledger calls ---------------------------------------------------------------------------------
def records():
    return [
        CallRecord("agent", "", "gpt-4o-mini", "openai-compatible", 1_000_000, 100_000, 0.1),
        CallRecord("agent", "", "gpt-4o-mini", "openai-compatible", 1_000_000, 0, 0.1),
        {"purpose": "judge", "model": "gpt-4.1", "prompt_tokens": 1_000_000, "completion_tokens": 0,
         "cached_prompt_tokens": 500_000},
        {"purpose": "memory", "model": "gpt-4o-mini", "prompt_tokens": 10, "completion_tokens": 10},
        {"purpose": "memory", "model": "my-local-llama", "prompt_tokens": 10, "completion_tokens": 10},
        {"purpose": "memory", "model": "other-unknown", "prompt_tokens": 1, "completion_tokens": 1},
        {"purpose": "judge", "model": "unknown-but-replayed", "prompt_tokens": 9, "completion_tokens": 9,
         "from_cache": True},
    ]  # fmt: skip


def test_costs_sum_per_purpose_and_a_group_with_an_unknown_price_is_unknown():
    groups = pricing.sum_costs(records(), PriceTable.bundled())
    assert list(groups) == ["agent", "judge", "memory"]
    assert groups["agent"].cost == pytest.approx(2 * 0.15 + 0.1 * 0.60) and groups["agent"].calls == 2
    assert groups["judge"].cost == pytest.approx(0.5 * 2.0 + 0.5 * 0.5)
    assert (groups["judge"].calls, groups["judge"].replayed, groups["judge"].prompt_tokens) == (2, 1, 1_000_000)
    assert groups["judge"].cached_prompt_tokens == 500_000 and groups["judge"].unknown_models == ()
    assert groups["memory"].cost is None
    assert groups["memory"].unknown_models == ("my-local-llama", "other-unknown")
    assert groups["memory"].to_json()["cost_usd"] is None and groups["memory"].to_json()["calls"] == 3


def test_a_user_price_makes_the_group_known_and_other_groupings_work(tmp_path):
    path = write(tmp_path, {"models": {"my-local-llama": {"input": 0, "output": 0},
                                       "other-unknown": {"input": 1, "output": 1}}})  # fmt: skip
    table = PriceTable.load(path)
    memory = pricing.sum_costs(records(), table)["memory"]
    assert memory.cost == pytest.approx((10 * 0.15 + 10 * 0.60 + 2) / 1e6) and memory.unknown_models == ()
    by_model = pricing.sum_costs(records(), table, group=lambda r: pricing._field(r, "model"))
    assert by_model["gpt-4o-mini"].calls == 3
    total = pricing.total_cost(iter(records()), table)
    assert total.cost == pytest.approx(sum(g.cost for g in pricing.sum_costs(records(), table).values()))
    assert pricing.total_cost([], table).cost == 0.0 and pricing.total_cost([], table).calls == 0


def test_sums_do_not_depend_on_the_order_of_calls():
    table = PriceTable.bundled()
    many = [{"purpose": "agent", "model": "gpt-4o-mini", "prompt_tokens": p, "completion_tokens": 7}
            for p in range(1, 400, 3)]  # fmt: skip
    assert pricing.total_cost(many, table) == pricing.total_cost(list(reversed(many)), table)
