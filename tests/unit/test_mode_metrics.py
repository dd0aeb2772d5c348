"""LG, SL, FR, TG, FTG, RG, ER, NR, ASR/AS and the 95% intervals, on small hand-computed cases
(the arithmetic is next to each case), including empty and degenerate inputs."""

import pytest

from pytest_amb.metrics.intervals import difference_interval, mean_interval, wilson
from pytest_amb.metrics.repair import repair_metrics
from pytest_amb.metrics.replay import forgetting
from pytest_amb.metrics.stream import curve_block, lg_curve, sl_curve, success_aggregate
from pytest_amb.metrics.transfer import forward_transfer_gain, transfer_gain


def step(phase, sample_id, reward, stage=0, status=None, task="t", probe_of="", flip=False, turns=1):
    transcript = [{"role": "assistant"}] * turns
    return {
        "step": {"phase": phase, "sample_id": sample_id, "stage": stage, "kind": "sample", "task": task,
                 "probe_of": probe_of, "flip_reward": flip},
        "status": status or ("passed" if reward >= 1 else "failed"),
        "success": reward >= 1,
        "reward": reward,
        "metrics": {},
        "transcript": transcript,
    }  # fmt: skip


# -- LG and SL (spec §8.4) --------------------------------------------------------------------------
def test_lg_and_sl_curves_and_means():
    csr = [1.0, 0.5, 2 / 3, 0.75]  # successes 1, 0, 1, 1
    # LG_t = max_{u>=t} c_u - c_t: [1-1, 0.75-0.5, 0.75-2/3, 0] = [0, 0.25, 1/12, 0]
    assert lg_curve(csr) == pytest.approx([0.0, 0.25, 1 / 12, 0.0])
    # SL_t = max_{u<=t} c_u - c_t: [0, 0.5, 1/3, 0.25]
    assert sl_curve(csr) == pytest.approx([0.0, 0.5, 1 / 3, 0.25])
    block = curve_block([True, False, True, True])
    assert block["lg"]["mean"] == pytest.approx((0.25 + 1 / 12) / 4)  # = 1/12
    assert block["sl"]["mean"] == pytest.approx((0.5 + 1 / 3 + 0.25) / 4)  # = 13/48
    assert block["csr"]["final"] == 0.75 and block["n"] == 4


def test_curves_of_degenerate_streams():
    assert curve_block([]) == {
        "n": 0,
        "csr": {"final": None, "curve": []},
        "lg": {"mean": None, "curve": []},
        "sl": {"mean": None, "curve": []},
    }
    single = curve_block([False])  # one step: every curve is [CSR_1] / [0]
    assert single["csr"]["curve"] == [0.0] and single["lg"]["curve"] == [0.0] and single["sl"]["curve"] == [0.0]
    no_success = curve_block([False, False, False])
    assert no_success["lg"]["mean"] == 0 and no_success["sl"]["mean"] == 0


# -- ASR and AS (spec §8.1) --------------------------------------------------------------------------
def test_asr_and_as_exclude_errors_and_carry_intervals():
    results = [
        step("online", "a", 1.0, turns=2),
        step("online", "b", 0.0, turns=4),
        step("online", "c", 0.0, status="error"),
    ]
    agg = success_aggregate(results)
    # n = 2 (the error is out), ASR = 1/2, AS = (2 + 4) / 2 = 3
    assert (agg["n"], agg["asr"], agg["as"]) == (2, 0.5, 3.0)
    assert agg["asr_ci95"] == wilson(1, 2)
    assert success_aggregate([]) == {"n": 0, "asr": None, "asr_ci95": None, "as": None, "as_ci95": None, "per_type": {}}


# -- intervals -------------------------------------------------------------------------------------
def test_intervals():
    # Wilson, 1 of 2: centre (0.5 + z²/4)/(1 + z²/2) = 0.5; half = z·sqrt(0.25/2 + z²/16)/(1 + z²/2) ≈ 0.4055
    assert wilson(1, 2) == pytest.approx([0.094531, 0.905469], abs=1e-5)
    assert wilson(0, 0) is None and wilson(0, 5)[0] == 0.0
    # mean of [1, 2, 3] = 2, s = 1, half = 1.96 / sqrt(3) ≈ 1.1316
    assert mean_interval([1.0, 2.0, 3.0]) == pytest.approx([0.868414, 3.131586], abs=1e-5)
    assert mean_interval([1.0]) is None
    # 0.5 vs 0.5 with n = 4 each: half = 1.96·sqrt(0.0625 + 0.0625) ≈ 0.69296
    assert difference_interval(0.5, 4, 0.5, 4) == pytest.approx([-0.692952, 0.692952], abs=1e-5)
    assert difference_interval(0.5, 0, 0.5, 4) is None


# -- FR (spec §8.5) ----------------------------------------------------------------------------------
def test_forgetting_rate_hand_computed():
    results = [
        # stage 1 learns a and b; both right right after learning (P_imm = 1)
        step("train", "a", 1.0, stage=1), step("immediate_test", "a", 1.0, stage=1),
        step("train", "b", 1.0, stage=1), step("immediate_test", "b", 1.0, stage=1),
        step("replay_test", "a", 1.0, stage=1),  # same stage: not "later", ignored
        # stage 2 learns c (P_imm = 0: never in S_j)
        step("train", "c", 0.0, stage=2), step("immediate_test", "c", 0.0, stage=2),
        step("replay_test", "a", 0.0, stage=2), step("replay_test", "b", 1.0, stage=2),
        # stage 3
        step("replay_test", "a", 1.0, stage=3), step("replay_test", "c", 1.0, stage=3),
    ]  # fmt: skip
    fr = forgetting(results)
    # a: later P = [0 (stage 2), 1 (stage 3)] -> FG(a) = mean(100·(1-0)/1, 100·(1-1)/1) = 50
    # b: later P = [1] -> FG(b) = 0;  S_1 = {a, b} -> FG_1 = 25; no other stage has S_j -> FR = 25
    assert fr["fr"] == pytest.approx(25.0)
    assert fr["per_stage"] == {"1": {"fg": 25.0, "n": 2}}
    assert fr["n"] == 2
    # immediate: mean(1, 1, 0) = 2/3 ; replay: mean(1, 0, 1, 1, 1) = 0.8
    assert fr["immediate"]["mean"] == pytest.approx(2 / 3) and fr["replay"]["mean"] == pytest.approx(0.8)


def test_forgetting_without_replays_or_successes():
    assert forgetting([])["fr"] is None
    never_right = [step("train", "a", 0.0, stage=1), step("immediate_test", "a", 0.0, stage=1),
                   step("replay_test", "a", 0.0, stage=2)]  # fmt: skip
    assert forgetting(never_right)["fr"] is None and forgetting(never_right)["n"] == 0


# -- TG and FTG (spec §8.6, §8.7) ----------------------------------------------------------------------
def test_transfer_gain_against_the_zero_shot_baseline():
    target = [step("source", "x", 1.0)] + [
        step("target", s, r) for s, r in (("a", 1.0), ("b", 1.0), ("c", 0.0), ("d", 1.0))
    ]
    baseline = [step("target", s, r) for s, r in (("a", 1.0), ("b", 0.0), ("c", 0.0), ("d", 1.0))]
    gain = transfer_gain(target, baseline)
    # ASR after transfer 3/4, zero_shot 2/4 -> TG = 0.25
    assert gain["tg"] == pytest.approx(0.25) and (gain["n_transfer"], gain["n_baseline"]) == (4, 4)
    assert transfer_gain([], baseline)["tg"] is None


def test_forward_transfer_gain_hand_computed():
    results = [
        step("train", "a", 1.0), step("forward_test", "c", 1.0, probe_of="a"),
        step("train", "b", 0.0), step("forward_test", "d", 1.0, probe_of="b"),  # P_on(b) = 0: skipped
        step("train", "c", 0.0), step("forward_test", "e", 0.0, probe_of="c"),  # P_on(c) = 0: skipped
        step("train", "d", 1.0),
        step("train", "e", 1.0),
    ]  # fmt: skip
    ftg = forward_transfer_gain(results)
    # only (a, c): 100 · (P_fwd(c) = 1 − P_on(c) = 0) / P_on(a) = 1 -> +100
    assert ftg["ftg"] == pytest.approx(100.0) and ftg["n"] == 1 and ftg["sd"] == 0.0
    assert forward_transfer_gain([])["ftg"] is None


# -- RG, ER, NR (spec §8.8, §8.9) -----------------------------------------------------------------------
def test_repair_metrics_hand_computed():
    results = [
        step("wrong_learn", "a", 1.0, stage=1, flip=True), step("wrong_learn", "b", 0.0, stage=1),
        step("wrong_test", "a", 0.0, stage=1), step("wrong_test", "b", 0.0, stage=1),
        step("right_learn", "a", 1.0, stage=1), step("right_learn", "b", 1.0, stage=1),
        step("right_test", "a", 1.0, stage=1), step("right_test", "b", 1.0, stage=1),
    ]  # fmt: skip
    metrics = repair_metrics(results)
    full, standard = metrics["full"], metrics["standard"]
    # full: before (1+0)/2 = 0.5, wrong 0, right 1 -> RG = 1, ER = 0 − 0.5 = −0.5, NR = 1 − 0.5 = 0.5
    assert (full["before"], full["wrong_test"], full["right_test"]) == (0.5, 0.0, 1.0)
    assert (full["rg"], full["er"], full["nr"]) == (1.0, -0.5, 0.5)
    # standard (the flipped sample a only): before 1, wrong 0, right 1 -> RG 1, ER −1, NR 0
    assert (standard["rg"], standard["er"], standard["nr"], standard["n"]) == (1.0, -1.0, 0.0, 1)
    empty = repair_metrics([])
    assert empty["full"]["rg"] is None and empty["standard"]["n"] == 0
