"""awm_pro, mem0 (v1 and v3) and mems on the one interface, with the reference model's memory answers
(in process) or scripted decisions, and the hashing test embedder."""

import json

import pytest

from memories.awm_pro import AwmProMemory, parse_workflows, trajectory_text
from memories.mem0 import Mem0Memory
from memories.mem0.store import Mem0Store
from memories.mems import MemsMemory
from pytest_amb.interfaces import EpisodeInfo, Outcome
from pytest_amb.memory import MEMORY_SEPARATOR, STATE_VERSION, MemoryDeps, Scope
from tests.conftest import ScriptedLLM

SESSION = EpisodeInfo("locomo-x", "session-1", "", {"kind": "session", "session_id": 1, "date_time": "8 May, 2023"})
TALK = [
    {"role": "user", "content": "Caroline: I adopted a golden retriever puppy named Biscuit last week."},
    {"role": "assistant", "content": "Melanie: That is lovely, I started pottery classes at the community center."},
]
INJECTED = Outcome(True, 1.0, "completed", kind="session_injection")
SUCCESS = Outcome(True, 1.0, "completed")
SQL_TRAJECTORY = [
    {"role": "system", "content": "You operate a MySQL database."},
    {"role": "user", "content": "Question: How many rows have Country equal to 'Kenya'?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c0", "type": "function", "function": {
        "name": "execute_sql", "arguments": json.dumps({"query": "SELECT COUNT(*) FROM `Runs` WHERE `Country` = 'Kenya'"})}}]},
    {"role": "tool", "tool_call_id": "c0", "content": "[(2,)]"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "commit_final_answer", "arguments": json.dumps({"answers": ["2"]})}}]},
]  # fmt: skip
SQL_INFO = EpisodeInfo("dbbench", "counting-00", "How many rows have Country equal to 'Kenya'?", {})


def deps(embedder, llm, config=None, scope=None, children=None):
    return MemoryDeps(embedder=embedder, llm=llm, config=config or {}, scope=scope or Scope("stream-a"),
                      child_configs=children or {})  # fmt: skip


def ask(question):
    return EpisodeInfo("locomo-x", "qa-1", question, {"kind": "qa"})


# -- mem0 v1 --------------------------------------------------------------------------------------------
def test_mem0_v1_extracts_dated_facts_and_finds_them_right_after_the_update(hashing_embedder, reference_memory_llm):
    memory = Mem0Memory(deps(hashing_embedder, reference_memory_llm))
    report = memory.update(SESSION, TALK, INJECTED)
    assert report.stored and len(report.added) == 2  # every named speaker's turn is a user message in a session
    recall = memory.retrieve(ask("What is the name of Caroline's puppy?"))  # synchronous: no wait
    assert "Biscuit" in recall.block and "[8 May, 2023]" in recall.block
    assert [c["operation"] for c in reference_memory_llm.calls] == ["mem0.extract", "mem0.update"]
    again = memory.update(SESSION, TALK, INJECTED)  # the same facts again: NONE, nothing stored
    assert not again.stored and len(memory.store.records) == 2


def test_mem0_v1_updates_and_deletes_with_remapped_ids_and_logs_history(hashing_embedder):
    llm = ScriptedLLM({
        "mem0.extract": ['{"facts": ["Caroline has a dog named Biscuit"]}', '{"facts": ["Caroline has a cat"]}',
                         '{"facts": ["Caroline gave Biscuit away"]}'],
        "mem0.update": ['{"memory": [{"id": "0", "text": "Caroline has a dog named Biscuit", "event": "ADD"}]}',
                        '{"memory": [{"id": "0", "text": "Caroline has a dog named Biscuit and a cat", "event": "UPDATE"}]}',
                        '```json\\n{"memory": [{"id": "0", "text": "", "event": "DELETE"}]}\\n```'],
    })  # fmt: skip
    memory = Mem0Memory(deps(hashing_embedder, llm))
    memory.update(SESSION, TALK, INJECTED)
    (record,) = memory.store.records.values()
    updated = memory.update(SESSION, TALK, INJECTED)
    assert updated.updated == (record.id,) and record.text.endswith("and a cat")
    prompt = llm.calls[3]["messages"][1]["content"]
    assert '"id": "0"' in prompt and record.id not in prompt  # the LLM never sees real ids
    deleted = memory.update(SESSION, TALK, INJECTED)
    assert deleted.deleted == (record.id,) and not memory.store.records
    assert [h["event"] for h in memory.store.history] == ["ADD", "UPDATE", "DELETE"]


def test_mem0_scopes_keep_streams_apart(hashing_embedder):
    store = Mem0Store(hashing_embedder)
    store.add("Caroline likes pottery", Scope("stream-a"))
    store.add("Melanie likes pottery", Scope("stream-b"))
    store.add("Caroline's agent note", Scope("stream-a", agent_id="system_memory"))
    vector = hashing_embedder.encode(["pottery"])[0]
    assert {r.text for r, _ in store.search(vector, Scope("stream-a"), 10)} == {
        "Caroline likes pottery",
        "Caroline's agent note",
    }
    assert {r.text for r, _ in store.search(vector, Scope("stream-b"), 10)} == {"Melanie likes pottery"}
    assert [r.text for r, _ in store.search(vector, Scope("stream-a", agent_id="system_memory"), 10)] == [
        "Caroline's agent note"
    ]


# -- mem0 v3 --------------------------------------------------------------------------------------------
def test_mem0_v3_adds_only_dedups_links_entities_and_ranks_by_hybrid_score(hashing_embedder, reference_memory_llm):
    memory = Mem0Memory(deps(hashing_embedder, reference_memory_llm, {"algorithm": "v3", "threshold": 0.0}))
    memory.update(SESSION, TALK, INJECTED)
    assert len(memory.store.records) == 2
    assert {r.attributed_to for r in memory.store.records.values()} == {"user"}
    assert any(e.text == "Biscuit" for e in memory.store.entities.values())
    assert not memory.update(SESSION, TALK, INJECTED).stored  # nothing new: no UPDATE, no duplicate
    hits = memory.retrieve(ask("Which puppy did Caroline adopt, Biscuit?")).retrieved
    assert "Biscuit" in hits[0].text and 0 < hits[0].score <= 1


# -- awm_pro --------------------------------------------------------------------------------------------
def test_awm_trajectory_keeps_the_actions_and_parses_both_answer_forms():
    text = trajectory_text(SQL_INFO.query, SQL_TRAJECTORY, tool_chars=500, max_chars=6000)
    assert "Action: execute_sql(" in text and "Observation: [(2,)]" in text and "MySQL" not in text
    as_json = parse_workflows(
        '{"workflows": [{"name": "count_rows", "description": "Given that ...", "steps": ["a", "b"]}]}'
    )
    assert as_json == ["## count_rows\nGiven that ...\nStep 1: a\nStep 2: b"]
    assert parse_workflows("Here:\n## first\nstep\n## second\nstep") == ["## first\nstep", "## second\nstep"]


def test_awm_pro_induces_manages_and_retrieves_workflows(hashing_embedder, reference_memory_llm):
    memory = AwmProMemory(deps(hashing_embedder, reference_memory_llm))
    report = memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS)
    assert report.stored and report.added == ("1",)
    workflow = memory.workflows[1].text
    assert "execute_sql" in workflow and "{value}" in workflow and "'Kenya'" not in workflow
    assert not memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS).stored  # the same workflow again: NONE
    recall = memory.retrieve(EpisodeInfo("dbbench", "x", "How many rows have City equal to 'Oslo'?", {}))
    assert recall.block.startswith("Here are some useful workflows") and recall.retrieved[0].id == "1"
    assert not memory.update(SESSION, TALK, INJECTED).stored  # conversations have no actions


def test_awm_pro_update_and_delete_map_the_remapped_ids_back(hashing_embedder):
    llm = ScriptedLLM({
        "awm.induce": ['{"workflows": [{"name": "a", "steps": ["x", "y"]}]}'] * 3,
        "awm.manage": ['{"memory": [{"id": "0", "text": "## a\\nStep 1: x", "event": "ADD"}]}',
                       '{"memory": [{"id": "0", "text": "## a\\nStep 1: x\\nStep 2: y", "event": "UPDATE"}]}',
                       '{"memory": [{"id": "0", "text": "", "event": "DELETE"}]}'],
    })  # fmt: skip
    memory = AwmProMemory(deps(hashing_embedder, llm))
    memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS)
    assert memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS).updated == ("1",)
    assert memory.workflows[1].text.endswith("Step 2: y")
    assert memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS).deleted == ("1",) and not memory.workflows
    assert memory.retrieve(SQL_INFO).block == ""


# -- mems -----------------------------------------------------------------------------------------------
def test_mems_routes_by_task_and_merges_one_block(hashing_embedder, reference_memory_llm):
    memory = MemsMemory(deps(hashing_embedder, reference_memory_llm))
    memory.update(SESSION, TALK, INJECTED)  # a conversation: personal memory (mem0)
    memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS)  # tool use: system memory (awm_pro)
    assert memory.children["personal_memory"].store.records and memory.children["system_memory"].workflows
    question = [{"role": "system", "content": "s"}, {"role": "user", "content": "What is Caroline's puppy called?"}]
    augmented = memory.augment(ask("What is Caroline's puppy called?"), question)
    content = augmented.messages[1]["content"]
    assert content.count(MEMORY_SEPARATOR) == 1 and "[personal_memory]" in content and "[system_memory]" not in content


def test_mems_falls_back_to_every_child_when_the_router_answer_is_unusable(hashing_embedder, reference_memory_llm):
    router = ScriptedLLM({"mems.route_update": ["I think both"], "mems.route_retrieval": ["no json"]})

    class Mixed:
        def chat(self, messages, *, purpose, operation="", **kw):
            target = router if operation.startswith("mems.") else reference_memory_llm
            return target.chat(messages, purpose=purpose, operation=operation, **kw)

    memory = MemsMemory(deps(hashing_embedder, Mixed()))
    report = memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS)
    assert "fallback" in report.reason and memory.children["system_memory"].workflows
    assert memory.retrieve(SQL_INFO).block.startswith("[system_memory]")


# -- checkpoints -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, config",
    [(AwmProMemory, {}), (Mem0Memory, {}), (Mem0Memory, {"algorithm": "v3"}), (MemsMemory, {})],
    ids=["awm_pro", "mem0-v1", "mem0-v3", "mems"],
)
def test_save_and_load_give_identical_retrieval(tmp_path, hashing_embedder, reference_memory_llm, cls, config):
    memory = cls(deps(hashing_embedder, reference_memory_llm, config))
    memory.update(SESSION, TALK, INJECTED)
    memory.update(SQL_INFO, SQL_TRAJECTORY, SUCCESS)
    queries = [
        ask("What is Caroline's puppy called?"),
        EpisodeInfo("dbbench", "y", "How many rows have City equal to 'Oslo'?", {}),
    ]
    before = [memory.retrieve(q) for q in queries]
    assert any(r.block for r in before)
    memory.save(tmp_path / "ckpt")
    restored = cls(deps(hashing_embedder, reference_memory_llm, config))
    restored.load(tmp_path / "ckpt")
    assert [restored.retrieve(q) for q in queries] == before
    assert json.loads((tmp_path / "ckpt" / "state.json").read_text())["version"] == STATE_VERSION


def test_the_mem0ai_backend_refuses_the_reference_model_or_a_missing_package(hashing_embedder):
    """The mem0ai path is exercised against a real endpoint only (the library's prompts carry no
    operation tag); here: it says clearly what it needs."""

    class ReferenceClient:
        endpoint = "reference"

    with pytest.raises(RuntimeError, match="mem0ai"):
        Mem0Memory(deps(hashing_embedder, ReferenceClient(), {"backend": "mem0ai"}))
