"""The reference model's SQL policy acts only on what the request contains."""

import json

from pytest_amb.memory import MEMORY_SEPARATOR
from taskcases.dbbench import reference as sql
from taskcases.dbbench.task import SYSTEM_PROMPT, TOOLS

SCHEMA = (
    "Additional table information about the question: The name of this table is Orchestra Members, and the "
    "headers of this table are Musician,Instrument,Section,Years."
)
EXAMPLE = (
    "Here are some examples of the task you have completed:\n\n"
    "Question: How many rows have Country equal to 'Kenya'?\n"
    'Assistant: Step 1. execute_sql({"query": "SELECT COUNT(*) FROM `Marathon Results` WHERE `Country` = \'Kenya\'"})\n'
    "Tool: [(2,)]\n"
    'Assistant: commit_final_answer({"answers": ["2"]})'
)


def request(question, memory=""):
    user = f"{SCHEMA}\nQuestion: {question}"
    if memory:
        user = f"{memory}\n\n{MEMORY_SEPARATOR}\n\n{user}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def first_call(message):
    function = message["tool_calls"][0]["function"]
    return function["name"], json.loads(function["arguments"])


def test_a_request_with_the_dbbench_tools_is_recognised():
    assert sql.claims({"tools": TOOLS, "messages": []})
    assert not sql.claims({"messages": []})


def test_quoted_values_are_enough_without_memory():
    name, args = first_call(sql.respond(request("How many rows have Section equal to 'Brass'?")))
    assert name == "execute_sql"
    assert args["query"] == "SELECT COUNT(*) FROM `Orchestra Members` WHERE `Section` = 'Brass'"


def test_without_quotes_or_memory_it_only_explores():
    _, args = first_call(sql.respond(request("How many rows have Section equal to Brass?")))
    assert args["query"] == "SELECT * FROM `Orchestra Members`"


def test_a_solved_example_in_memory_is_adapted_to_the_current_table_and_question():
    _, args = first_call(sql.respond(request("How many rows have Section equal to Brass?", EXAMPLE)))
    assert args["query"] == "SELECT COUNT(*) FROM `Orchestra Members` WHERE `Section` = 'Brass'"


def test_it_commits_the_values_of_the_last_result_or_done_after_a_change():
    messages = request("How many rows have Section equal to 'Brass'?")
    messages.append(sql.respond(messages))
    messages.append({"role": "tool", "tool_call_id": "call_0", "content": "[(Decimal('2'),)]"})
    assert first_call(sql.respond(messages)) == ("commit_final_answer", {"answers": ["2"]})
    change = request("Delete the rows whose Section is 'Brass'.")
    change.append(sql.respond(change))
    change.append({"role": "tool", "tool_call_id": "call_0", "content": "[]"})
    assert first_call(sql.respond(change)) == ("commit_final_answer", {"answers": ["done"]})


def test_the_same_request_gets_the_same_reply():
    messages = request("How many rows have Section equal to Brass?", EXAMPLE)
    assert sql.respond(messages) == sql.respond(json.loads(json.dumps(messages)))
