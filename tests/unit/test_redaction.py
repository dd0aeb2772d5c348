"""The one redaction rule (pytest_amb.redaction) and the bounded step record (pytest_amb.storage)."""

import base64
import hashlib
import json

import pytest

from pytest_amb import redaction, storage

KEY = "sk-unit-KEY-abcdef123456"


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in redaction.API_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# -- URLs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@host:8000/v1", "http://user:***@host:8000/v1"),
        ("https://host/v1", "https://host/v1"),
        ("mysql://root:p%40ss@db:3306", "mysql://root:***@db:3306"),
        ("http://user@host/v1", "http://user@host/v1"),
        (None, None),
        ("", None),
    ],
)
def test_a_url_loses_its_password(url, shown):
    assert redaction.redact_url(url) == shown


def test_every_url_password_in_a_text_is_masked_even_unregistered():
    text = "failed to reach http://alice:Unknown-Pw-1@10.0.0.1:8000/v1 and mysql://bob:x@db/ (see https://docs/)"
    assert redaction.redact(text) == (
        "failed to reach http://alice:***@10.0.0.1:8000/v1 and mysql://bob:***@db/ (see https://docs/)"
    )


def test_a_registered_url_password_is_masked_wherever_it_occurs_with_its_encodings():
    redaction.register_url("http://carol:p%40ss-Word-77@host/v1")
    basic = base64.b64encode(b"carol:p@ss-Word-77").decode()
    text = f"echo: password p@ss-Word-77, raw p%40ss-Word-77, header 'Basic {basic}'"
    assert redaction.redact(text) == "echo: password ***, raw ***, header 'Basic ***'"


def test_the_api_key_from_the_environment_is_masked(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert redaction.redact(f"Incorrect API key provided: Bearer {KEY}.") == "Incorrect API key provided: Bearer ***."


def test_short_secrets_are_masked_inside_urls_only():
    redaction.register_url("http://dave:pw@host/v1")
    assert (
        redaction.redact("pw: the password of http://dave:pw@host/v1") == "pw: the password of http://dave:***@host/v1"
    )


def test_a_secret_option_value_that_is_no_url_is_a_secret_itself():
    redaction.register_option_value("token-0123456789")
    assert redaction.redact("auth token-0123456789 refused") == "auth *** refused"


def test_redact_json_walks_every_string_and_leaves_the_rest():
    redaction.register_secret("walk-secret-42")
    value = {"a": ["x walk-secret-42", 3, None, {"b": "walk-secret-42"}], "n": 1.5}
    assert redaction.redact_json(value) == {"a": ["x ***", 3, None, {"b": "***"}], "n": 1.5}


# -- the bounded record --------------------------------------------------------------------------------------
def _record(**fields):
    base = {"step": {"id": "s"}, "status": "failed", "metrics": {}, "explanation": "", "transcript": [],
            "memory_block": "", "retrieved": [], "update": {}, "error": None, "llm_calls": []}  # fmt: skip
    return {**base, **fields}


def test_a_long_text_is_cut_keeping_its_length_and_sha256_and_its_copies_refer_to_the_first():
    long = "abcdefghij" * 100_000  # 1,000,000 characters
    record = storage.bound_record(_record(
        transcript=[{"role": "user", "content": "q"}, {"role": "assistant", "content": long}],
        metrics={"predicted": long}, explanation="short",
    ))  # fmt: skip
    content = record["transcript"][1]["content"]
    assert (
        storage.TEXT_LIMIT - 10 < len(content) <= storage.TEXT_LIMIT
        and content.startswith("abcdefghij")
        and content.endswith("hij")
    )
    assert "characters cut here; the full text has 1,000,000 characters" in content
    sha256 = hashlib.sha256(long.encode()).hexdigest()
    assert record["cut"] == [
        {"path": "transcript[1].content", "chars": 1_000_000, "sha256": sha256},
        {"path": "metrics.predicted", "chars": 1_000_000, "sha256": sha256},
    ]
    assert record["metrics"]["predicted"].startswith("[same text as transcript[1].content: 1,000,000 characters")
    assert record["explanation"] == "short" and record["transcript"][0] == {"role": "user", "content": "q"}
    assert storage.bound_record(record) == record  # cutting again changes nothing


def test_a_record_of_many_long_texts_stays_below_the_step_limit():
    messages = [{"role": "assistant" if i % 2 else "user", "content": f"{i} " + "é" * 50_000} for i in range(200)]
    record = storage.bound_record(_record(transcript=messages))
    size = len(json.dumps(record, ensure_ascii=False).encode())
    assert size < storage.STEP_LIMIT
    assert [m["role"] for m in record["transcript"]] == [m["role"] for m in messages]  # every message kept
    assert len(record["cut"]) == 200 and all(c["chars"] == len(m["content"]) for c, m in zip(record["cut"], messages))


def test_the_record_is_redacted_before_it_is_cut():
    redaction.register_secret("cut-secret-99")
    text = "x" * (storage.TEXT_LIMIT * 3 // 4 - 5) + "cut-secret-99" + "y" * 10_000
    record = storage.bound_record(_record(explanation=text, error={"message": "at http://u:cut-secret-99@h/"}))
    assert "cut-secret" not in json.dumps(record) and "cut-secr" not in json.dumps(record)
    assert record["error"]["message"] == "at http://u:***@h/"


def test_a_failure_text_is_short_and_redacted():
    redaction.register_secret("failure-secret-1")
    text = storage.failure_text("question: q\npredicted: " + "word " * 1_000_000 + "failure-secret-1\njudge: WRONG")
    assert len(text) <= storage.FAILURE_LIMIT and text.endswith("***\njudge: WRONG")
