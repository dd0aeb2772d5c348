import json

import pytest

from pytest_amb.interfaces import JudgeVerdict
from pytest_amb.registry import indexes as task_indexes
from pytest_amb.registry import resolve
from pytest_amb.tasks import TaskNameError
from taskcases.locomo.loader import DataError, load_conversations
from taskcases.locomo.task import LocomoTask, extract_answer


def _bundled():
    return resolve("locomo", None)


def test_bundled_samples_load_with_sessions_dates_and_categories():
    conversations = [c for path in _bundled().files for c in load_conversations(path)]
    assert [c.sample_id for c in conversations] == ["amb-sample-1", "amb-sample-2"]
    first, second = conversations
    assert len(first.sessions) == 6 and len(second.sessions) == 5
    assert all(s.date_time for c in conversations for s in c.sessions)
    for conversation in conversations:
        categories = {q.category for q in conversation.askable_qas}
        assert categories == {1, 2, 3, 4}
        assert any(q.category == 5 for q in conversation.qas), "the sample must exercise the exclusion"
        assert all(q.evidence for q in conversation.askable_qas)
    assert second.qas_for_session(4) == ()  # a session without questions


def test_task_index_excludes_category_5_and_lists_sessions_in_order():
    indexes = task_indexes(_bundled())
    assert [i.name for i in indexes] == ["locomo/amb-sample-1", "locomo/amb-sample-2"]
    conversation = load_conversations(_bundled().files[0])[0]
    adversarial = {q.sample_id for q in conversation.qas if q.category == 5}
    assert adversarial and not adversarial & set(indexes[0].sample_ids)
    assert [s.session_id for s in indexes[0].sessions] == [1, 2, 3, 4, 5, 6]
    assert sum(len(s.qa_ids) for s in indexes[0].sessions) == len(indexes[0].sample_ids)


def _write(tmp_path, obj, name="conv.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def _conversation(qa):
    return [{
        "sample_id": "c",
        "conversation": {
            "speaker_a": "Ann", "speaker_b": "Bob",
            "session_1_date_time": "1:00 pm on 2 May, 2023",
            "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "hi"},
                          {"speaker": "Bob", "dia_id": "D1:2", "text": "look", "blip_caption": "a photo of a boat"}],
            "session_2_date_time": "1:00 pm on 9 May, 2023",
            "session_2": [{"speaker": "Bob", "dia_id": "D2:1", "text": "again"}],
        },
        "qa": qa,
    }]  # fmt: skip


def test_where_is_derived_from_evidence_when_the_file_lacks_it(tmp_path):
    path = _write(tmp_path, _conversation([
        {"question": "q1", "answer": "a", "evidence": ["D1:1"], "category": 4},
        {"question": "q2", "answer": "a", "evidence": [], "category": 4},
    ]))  # fmt: skip
    conversation = load_conversations(path)[0]
    assert [q.where for q in conversation.qas] == [1, 2]  # max evidence session, else the last session


def test_bad_data_names_the_file_and_the_field(tmp_path):
    path = _write(tmp_path, _conversation([{"answer": "a", "evidence": [], "category": 4}]))
    with pytest.raises(DataError, match=r"conv\.json.*qa\[0\].*'question'"):
        load_conversations(path)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json: not valid JSON"):
        load_conversations(broken)


class _FixedJudge:
    """Test double for the LLM judge: labels an answer correct when it equals the gold."""

    def __call__(self, question, gold, predicted):
        ok = predicted == gold
        return JudgeVerdict(1.0 if ok else 0.0, "CORRECT" if ok else "WRONG", "fixed")


def test_episode_scores_the_answer_and_session_messages_keep_speakers_and_captions(tmp_path):
    path = _write(
        tmp_path, _conversation([{"question": "Who waved?", "answer": "Ann", "evidence": ["D1:1"], "category": 4}])
    )
    task = LocomoTask("t", load_conversations(path)[0], _FixedJudge())
    episode = task.open("qa-0")
    assert [m["role"] for m in episode.messages] == ["system", "user"]
    assert episode.messages[1]["content"] == "Who waved?"
    reply = episode.step({"role": "assistant", "content": "Answer: Ann"})
    assert reply.finish and reply.reward == 1.0 and reply.metrics["f1"] == 1.0
    reply = episode.step({"role": "assistant", "content": ""})
    assert reply.reward == 0.0 and "empty answer" in reply.explanation
    messages = task.session_messages(1)
    assert messages == [
        {"role": "user", "content": "Ann: hi"},
        {"role": "assistant", "content": "Bob: look [shares a photo: a photo of a boat]"},
    ]
    assert task.session_messages(2)[0]["role"] == "assistant"  # by speaker, not by turn parity
    assert task.session_info(2).meta["date_time"] == "1:00 pm on 9 May, 2023"


@pytest.mark.parametrize(
    "content, expected",
    [
        ("Answer: 7 May", "7 May"),
        ("The answer is: Paris", "Paris"),
        ("final answer - blue", "blue"),
        ("  plain ", "plain"),
    ],
)
def test_extract_answer_strips_answer_prefixes(content, expected):
    assert extract_answer(content) == expected


def test_task_names_resolve_to_files_or_say_what_is_missing(tmp_path):
    with pytest.raises(TaskNameError, match="--amb-data-dir"):
        resolve("locomo-3", None)
    with pytest.raises(TaskNameError, match=r"locomo/locomo3\.json"):
        resolve("locomo-3", tmp_path)
    with pytest.raises(TaskNameError, match="not available in this version"):
        resolve("kg-std", tmp_path)
    with pytest.raises(TaskNameError, match="unknown task 'nope'; accepted: locomo, locomo-0"):
        resolve("nope", tmp_path)
