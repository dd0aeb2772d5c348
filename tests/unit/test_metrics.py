"""Answer-level and aggregate metrics of LoCoMo (spec §8.2) and the CSR curve (spec §8.3).

Every expected value is computed by hand; the arithmetic is in the comment next to the case.
"""

from __future__ import annotations

import pytest

from pytest_amb.metrics.answer import bleu1, token_f1
from pytest_amb.metrics.stream import csr_curve
from pytest_amb.plan import INJECT, SAMPLE, Step
from pytest_amb.runner import ERROR, FAILED, PASSED, StepResult
from taskcases.locomo.metrics import qa_aggregate

# --------------------------------------------------------------------------------------------------
# token_f1: set-based F1 over lower-cased tokens with only . , ! ? ; : turned into spaces
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [
        # P = G = {caroline, went, hiking} -> p = r = 1 -> F1 = 1
        ("Caroline went hiking", "caroline went hiking", 1.0),
        # P = {a, red, car}, G = {red}: |P∩G| = 1, p = 1/3, r = 1/1
        # F1 = 2·(1/3)·1 / (1/3 + 1) = (2/3) / (4/3) = 0.5   (p != r)
        ("a red car", "red", 0.5),
        # P = {red}, G = {a, red, car}: p = 1, r = 1/3 -> the same 0.5 (F1 is symmetric)
        ("red", "a red car", 0.5),
        # P = {went, to, paris}, G = {paris, in, may}: |P∩G| = 1, p = 1/3, r = 1/3 -> F1 = 1/3
        ("went to Paris", "Paris in May", 1 / 3),
        # P = {7, may, 2023} after ',' -> ' ' and '!' -> ' ';  G = {7, may, 2023} -> 1
        ("7 May, 2023!", "7 may 2023", 1.0),
        # every character of the set .,!?;: is a separator: P = {a, b, c, d, e, f, g} = G -> 1
        ("a.b,c!d?e;f:g", "a b c d e f g", 1.0),
        # gold may be a number in the LoCoMo data (gold = str(answer)): P = G = {2022} -> 1
        ("2022", 2022, 1.0),
    ],
)
def test_token_f1_hand_computed(predicted, gold, expected):
    assert token_f1(predicted, gold) == pytest.approx(expected)


def test_token_f1_uses_set_semantics_duplicates_do_not_count_twice():
    # P = set("the the cat") = {the, cat}, G = {the, cat, sat}: |P∩G| = 2
    # p = 2/2 = 1, r = 2/3 -> F1 = 2·1·(2/3) / (1 + 2/3) = (4/3) / (5/3) = 0.8
    # (a SQuAD multiset F1 would give p = 2/3, r = 2/3 -> 0.667)
    assert token_f1("the the cat", "the cat sat") == pytest.approx(0.8)
    # P = {paris} = G although "paris" is repeated three times -> 1 (not 1/3 precision)
    assert token_f1("paris paris paris", "Paris") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        # apostrophe is not in the set: {don't} vs {dont} -> no overlap -> 0
        ("don't", "dont"),
        # hyphen is not in the set: {hiking-trip} vs {hiking, trip} -> 0
        ("hiking-trip", "hiking trip"),
        # parentheses and quotes are not in the set: {(paris)} vs {paris} -> 0
        ("(Paris)", "Paris"),
        ('"paris"', "paris"),
    ],
)
def test_token_f1_strips_only_its_punctuation_set(predicted, gold):
    assert token_f1(predicted, gold) == 0.0


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        ("", "Paris"),  # P empty -> 0
        ("Paris", ""),  # G empty -> 0
        ("   ", "Paris"),  # whitespace only: P empty -> 0
        ("...!?", "Paris"),  # only separators: P empty -> 0
        ("", ""),  # both empty -> 0, not 1
        ("London", "Paris"),  # P∩G empty -> 0
    ],
)
def test_token_f1_is_zero_for_empty_or_disjoint(predicted, gold):
    assert token_f1(predicted, gold) == 0.0


# --------------------------------------------------------------------------------------------------
# bleu1: clipped unigram precision, no brevity penalty, no smoothing; punctuation tokens count
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [
        # pred counts {the: 3}, gold {the: 1, cat: 1}: clipped min(3, 1) = 1, |pred| = 3 -> 1/3
        ("the the the", "the cat", 1 / 3),
        # pred [paris, .] vs gold [paris]: min(1,1) + min(1,0) = 1, |pred| = 2 -> 1/2
        ("Paris.", "Paris", 0.5),
        # pred [7, may, ",", 2023] vs gold [7, may, 2023]: 3 matched of 4 -> 0.75
        ("7 May, 2023", "7 May 2023", 0.75),
        # pred [paris] vs gold [paris, .]: 1 matched of 1 -> 1 (precision only)
        ("paris", "Paris.", 1.0),
        # no brevity penalty: pred [cat] vs a long gold containing cat -> 1/1
        ("cat", "the cat sat on the mat", 1.0),
        # case-insensitive: [paris] vs [paris] -> 1
        ("PARIS", "paris", 1.0),
        # pred [london] vs gold [paris]: 0 of 1 -> 0
        ("London", "Paris", 0.0),
        # gold empty: every count is clipped to 0 -> 0 / 1 = 0
        ("Paris", "", 0.0),
    ],
)
def test_bleu1_hand_computed(predicted, gold, expected):
    assert bleu1(predicted, gold) == pytest.approx(expected)


@pytest.mark.parametrize("predicted", ["", "   ", "\n\t"])
def test_bleu1_is_zero_for_an_empty_prediction(predicted):
    # no prediction tokens -> 0 (no division by zero)
    assert bleu1(predicted, "Paris") == 0.0


# --------------------------------------------------------------------------------------------------
# csr_curve: CSR_t = (1/t)·Σ_{i≤t} s_i
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "expected"),
    [
        # 1/1, 1/2, 2/3, 3/4
        ([1, 0, 1, 1], [1.0, 0.5, 2 / 3, 0.75]),
        # 0/1, 1/2, 2/3
        ([False, True, True], [0.0, 0.5, 2 / 3]),
        # 1/1, 2/2, 3/3
        ([True, True, True], [1.0, 1.0, 1.0]),
        # 0/1, 0/2
        ([False, False], [0.0, 0.0]),
        ([], []),
    ],
)
def test_csr_curve_hand_computed(successes, expected):
    curve = csr_curve(successes)
    assert curve == pytest.approx(expected)
    assert len(curve) == len(successes)


def test_csr_curve_final_value_is_the_overall_success_rate():
    successes = [True, False, False, True, True, False, True, True]
    # 5 successes of 8 -> CSR_T = 5/8 = 0.625
    assert csr_curve(successes)[-1] == pytest.approx(0.625)


# --------------------------------------------------------------------------------------------------
# qa_aggregate over journaled step results (StepResult.to_json())
# --------------------------------------------------------------------------------------------------

_POSITION = iter(range(10_000))


def _result(kind: str, status: str, metrics: dict | None = None, sample_id: str = "qa-0") -> dict:
    """A step result exactly as the runner journals it: StepResult(...).to_json()."""
    step = Step(
        stream="locomo-0/none/s0",
        position=next(_POSITION),
        task="locomo/conv-26",
        kind=kind,
        sample_id=sample_id,
        phase="online",
        augment=kind == SAMPLE,
        update=True,
    )
    success = None if status == ERROR else status == PASSED
    return StepResult(step=step.to_json(), status=status, success=success, metrics=metrics or {}).to_json()


def _qa(status: str, category: int, judge: float, f1: float, bleu: float, predicted: str = "x") -> dict:
    metrics = {
        "category": category,
        "question": "q?",
        "gold": "g",
        "predicted": predicted,
        "f1": f1,
        "bleu": bleu,
        "judge": judge,
        "judge_rationale": "r",
        "status": "completed",
    }
    return _result(SAMPLE, status, metrics, sample_id=f"qa-{next(_POSITION)}")


def test_step_result_shape_matches_what_qa_aggregate_reads():
    r = _qa(PASSED, 1, 1.0, 1.0, 1.0)
    assert r["step"]["kind"] == SAMPLE
    assert r["status"] == PASSED
    assert {"category", "judge", "f1", "bleu"} <= set(r["metrics"])


def _means(block):
    return {k: block[k] for k in ("n", "judge_accuracy", "f1", "bleu")}


def test_qa_aggregate_overall_and_per_category():
    results = [
        _result(INJECT, PASSED, sample_id="session-1"),  # an injection is not a sample
        _qa(PASSED, 1, judge=1.0, f1=1.0, bleu=1.0),
        _qa(FAILED, 1, judge=0.0, f1=0.5, bleu=0.25),
        # an empty answer is scored 0 and counted (the original dropped it, §8.2 [Q23])
        _qa(FAILED, 2, judge=0.0, f1=0.0, bleu=0.0, predicted=""),
        # errored steps are excluded, even when metrics were already written before the error
        _result(SAMPLE, ERROR, sample_id="qa-err-1"),
        _qa(ERROR, 2, judge=1.0, f1=1.0, bleu=1.0),
        _qa(PASSED, 4, judge=1.0, f1=0.8, bleu=0.5),
    ]
    agg = qa_aggregate(results)
    # scored: the 4 non-error samples
    # judge = (1 + 0 + 0 + 1) / 4 = 0.5
    # f1    = (1 + 0.5 + 0 + 0.8) / 4 = 2.3 / 4 = 0.575
    # bleu  = (1 + 0.25 + 0 + 0.5) / 4 = 1.75 / 4 = 0.4375
    assert agg["n"] == 4
    assert agg["judge_accuracy"] == pytest.approx(0.5)
    assert agg["f1"] == pytest.approx(0.575)
    assert agg["bleu"] == pytest.approx(0.4375)

    per = agg["per_category"]
    assert set(per) == {"1", "2", "4"}
    # category 1: judge (1 + 0)/2 = 0.5, f1 (1 + 0.5)/2 = 0.75, bleu (1 + 0.25)/2 = 0.625
    assert _means(per["1"]) == pytest.approx({"n": 2, "judge_accuracy": 0.5, "f1": 0.75, "bleu": 0.625})
    # category 2: only the empty answer (the errored one is out): all 0, n = 1
    assert _means(per["2"]) == pytest.approx({"n": 1, "judge_accuracy": 0.0, "f1": 0.0, "bleu": 0.0})
    # category 4: one sample
    assert _means(per["4"]) == pytest.approx({"n": 1, "judge_accuracy": 1.0, "f1": 0.8, "bleu": 0.5})


def test_qa_aggregate_category_blocks_add_up_to_the_overall_block():
    results = [_qa(PASSED, c, 1.0, 0.5, 0.5) for c in (1, 2, 3, 4, 4)] + [_qa(FAILED, 3, 0.0, 0.0, 0.0)]
    agg = qa_aggregate(results)
    assert agg["n"] == sum(block["n"] for block in agg["per_category"].values()) == 6
    # judge = 5 correct of 6
    assert agg["judge_accuracy"] == pytest.approx(5 / 6)
    # category 3: (1 + 0)/2 = 0.5; category 4: (1 + 1)/2 = 1
    assert agg["per_category"]["3"]["judge_accuracy"] == pytest.approx(0.5)
    assert agg["per_category"]["4"]["judge_accuracy"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "results",
    [
        [],
        [_result(INJECT, PASSED, sample_id="session-1")],
        [_result(SAMPLE, ERROR, sample_id="qa-1"), _result(SAMPLE, ERROR, sample_id="qa-2")],
    ],
    ids=["nothing", "only-injections", "only-errors"],
)
def test_qa_aggregate_without_scored_samples_has_no_means(results):
    assert qa_aggregate(results) == {
        "n": 0,
        "judge_accuracy": None,
        "judge_accuracy_ci95": None,
        "f1": None,
        "f1_ci95": None,
        "bleu": None,
        "bleu_ci95": None,
        "per_category": {},
    }
