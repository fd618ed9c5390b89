"""vgbench.speed.compare: bootstrap ratios on synthetic samples, verdicts, CLI exit codes, decay
agreement, and a real rerun of the same code judged "no change"."""

import numpy as np
import pytest

from vgbench.cli import main
from vgbench.report.results import write_result
from vgbench.speed.baselines import Case
from vgbench.speed.compare import (
    bootstrap_ratio_ci,
    compare_speed,
    compare_values,
    fast_end_ratio,
    setup_differences,
    speed_verdict,
)

MACHINE = {"machine": "m", "cpu": "c", "blas": [], "blas_coretype": {"mode": "auto",
                                                                  "coretype": None}}


def _samples(rng, scale=1.0, n=300):
    """Right-skewed timings around 1 ms (lognormal, 10% spread), in ns."""
    return (scale * 1e6 * rng.lognormal(0.0, 0.1, n)).astype(np.int64)


def _speed_doc(samples_by_impl: dict) -> dict:
    case = Case("mlp", 8, 4, depth=2)
    records = []
    for impl, s in samples_by_impl.items():
        med = float(np.median(s)) * 1e-9
        records.append({"label": case.label(), "in_dim": 0, "out_dim": 1, "threads": 1,
                        "impl": impl, "pass": "fwd_bwd", "samples_ns": s.tolist(),
                        "median_s": med})
    return {"kind": "speed", "machine": MACHINE, "config": {},
            "data": {"records": records, "ceiling": {}}}


def test_identical_distributions_no_change():
    rng = np.random.default_rng(0)
    for _ in range(5):
        ratio, low, high = bootstrap_ratio_ci(_samples(rng), _samples(rng))
        assert low < 1 < high or abs(ratio - 1) < 0.03
        assert speed_verdict(low, high) == "no change"


def test_two_fold_shift_is_flagged_both_ways():
    rng = np.random.default_rng(1)
    base, slow = _samples(rng), _samples(rng, scale=2.0)
    ratio, low, high = bootstrap_ratio_ci(base, slow)
    assert 1.9 < low <= ratio <= high < 2.1
    assert speed_verdict(low, high) == "slower"
    ratio, low, high = bootstrap_ratio_ci(slow, base)
    assert 0.47 < low <= ratio <= high < 0.53
    assert speed_verdict(low, high) == "faster"


def test_small_significant_shift_below_threshold_is_no_change():
    rng = np.random.default_rng(2)
    _, low, high = bootstrap_ratio_ci(_samples(rng, n=3000), _samples(rng, 1.05, n=3000))
    assert low > 1.0  # statistically real ...
    assert speed_verdict(low, high, threshold=1.10) == "no change"  # ... but under the threshold
    assert speed_verdict(low, high, threshold=1.01) == "slower"


def test_contention_tail_alone_is_no_change():
    """Half the calls 60% slower (other processes), the fast half unmoved: no change;
    every call 60% slower: slower."""
    rng = np.random.default_rng(7)
    base = _samples(rng, n=1000)
    busy = _samples(rng, n=1000)
    busy[: 600] = (busy[: 600] * 1.6).astype(np.int64)
    _, low, high = bootstrap_ratio_ci(base, busy)
    assert low > 1.10  # the median moved ...
    assert speed_verdict(low, high, 1.10, fast_end_ratio(base, busy)) == "no change"
    shifted = (base * 1.6).astype(np.int64)
    _, low, high = bootstrap_ratio_ci(base, shifted)
    assert speed_verdict(low, high, 1.10, fast_end_ratio(base, shifted)) == "slower"


def test_ci_narrows_with_more_samples():
    rng = np.random.default_rng(3)
    _, l1, h1 = bootstrap_ratio_ci(_samples(rng, n=30), _samples(rng, n=30))
    _, l2, h2 = bootstrap_ratio_ci(_samples(rng, n=3000), _samples(rng, n=3000))
    assert h2 - l2 < (h1 - l1) / 3


def test_compare_speed_matches_records_by_key():
    rng = np.random.default_rng(4)
    base = _speed_doc({"vgbench": _samples(rng), "numpy": _samples(rng)})
    new = _speed_doc({"vgbench": _samples(rng, 2.0), "torch": _samples(rng)})
    rows = compare_speed(base, new)
    assert [(r.key[4], r.verdict) for r in rows] == [("vgbench", "slower")]


def test_cli_fail_above_exit_codes_and_outputs(tmp_path):
    rng = np.random.default_rng(5)
    paths = {}
    for name, scale in (("base", 1.0), ("same", 1.0), ("slow", 2.0)):
        doc = _speed_doc({"vgbench": _samples(rng, scale)})
        paths[name] = write_result(tmp_path / f"{name}.json", "speed", {}, doc["data"],
                                   MACHINE)
    assert main(["compare", str(paths["base"]), str(paths["same"]), "--fail-above",
                 "1.1"]) == 0
    md, png = tmp_path / "c.md", tmp_path / "c.png"
    assert main(["compare", str(paths["base"]), str(paths["slow"]), "--fail-above", "1.1",
                 "--markdown", str(md), "--png", str(png)]) == 1
    assert "slower" in md.read_text() and png.stat().st_size > 1000
    assert main(["compare", str(paths["base"]), str(paths["slow"])]) == 0  # report only


def test_decay_results_agree_to_rounding_and_differences_are_named():
    rng = np.random.default_rng(6)
    curve = rng.lognormal(size=20)
    base = {"config": {"depth": 20}, "data": {"runs": [{"delta_norms": curve.tolist()}]}}
    rounded = {"config": {"depth": 20},
               "data": {"runs": [{"delta_norms": (curve * (1 + 1e-14)).tolist()}]}}
    assert compare_values(base, rounded) == []
    moved = curve.copy()
    moved[7] *= 1 + 1e-6
    other = {"config": {"depth": 20}, "data": {"runs": [{"delta_norms": moved.tolist()}]}}
    diffs = compare_values(base, other)
    assert len(diffs) == 1 and "runs[0].delta_norms" in diffs[0] and "1e-06" in diffs[0]
    changed = {"config": {"depth": 21}, "data": base["data"]}
    assert any("config.depth" in d for d in compare_values(base, changed))


def test_setup_differences_show_blas_core_type():
    a = {"machine": MACHINE, "data": {}}
    b = {"machine": {**MACHINE, "blas_coretype": {"mode": "SkylakeX", "coretype": "SkylakeX"}},
         "data": {}}
    assert any("core-type" in d for d in setup_differences(a, b))
    assert setup_differences(a, a) == []
    c = {"machine": {**MACHINE, "kernel_gemm": {"backend": "numba-np.dot", "library": None}},
         "data": {}}
    assert any(d.startswith("kernel_gemm:") for d in setup_differences(a, c))


def test_rerun_of_same_code_is_no_change():
    """Real runs of the same sweep, judged "no change" at the default threshold.

    The runs alternate (A B A B ...) and each file pools its runs' samples: on a shared
    machine the load drifts by tens of percent over seconds, and alternating gives both
    files the same drift, as two runs of a quiet machine would have.
    """
    from vgbench.speed.sweep import run_sweep

    kw = dict(cases=[Case("mlp", 32, 16, depth=3)], impls=["vgbench"], threads=[1],
              passes=["fwd_bwd"], budget_s=0.03, min_repeats=20, measure_ceiling=False)
    run_sweep(**kw)  # warm caches and JIT once
    runs = [run_sweep(**kw) for _ in range(10)]
    docs = []
    for part in (runs[0::2], runs[1::2]):
        data = part[0]
        data["records"][0]["samples_ns"] = [s for d in part for s in d["records"][0]
                                            ["samples_ns"]]
        data["records"][0]["median_s"] = float(np.median(data["records"][0]["samples_ns"]))
        docs.append({"machine": MACHINE, "data": data})
    rows = compare_speed(*docs)
    assert len(rows) == 1
    assert rows[0].verdict == "no change", rows[0]


def test_speed_verdict_rejects_threshold_below_one():
    with pytest.raises(ValueError):
        speed_verdict(0.9, 1.1, threshold=0.9)


def test_bootstrap_ci_matches_a_plain_percentile_bootstrap():
    """scipy.stats.bootstrap gives the CI a hand-written percentile bootstrap of the ratio of
    medians gives (independent resampling of each side), to Monte Carlo error."""
    rng = np.random.default_rng(42)
    base, new = _samples(rng, n=400), _samples(rng, 1.2, n=300)
    ratios = np.array([np.median(rng.choice(new, new.size)) / np.median(rng.choice(base, base.size))
                       for _ in range(4000)])
    want_low, want_high = np.quantile(ratios, [0.025, 0.975])
    ratio, low, high = bootstrap_ratio_ci(base, new, n_boot=4000)
    assert ratio == pytest.approx(np.median(new) / np.median(base))
    width = want_high - want_low
    assert abs(low - want_low) < 0.1 * width and abs(high - want_high) < 0.1 * width
