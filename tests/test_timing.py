"""vgbench.speed.timing: statistics on known samples, the block protocol, thread limits.
(No speed targets here: timings on a shared machine are not assertions.)"""

import time

import numba
import pytest
from threadpoolctl import threadpool_info

from vgbench.speed.timing import Timing, sample_stats, thread_limit, time_block


def test_sample_stats_known_samples():
    # 1..9 ms: median 5, quartiles 3 and 7 (linear interpolation), min 1
    st = sample_stats([k * 1_000_000 for k in (9, 1, 8, 2, 7, 3, 6, 4, 5)])
    assert st == {"median_s": pytest.approx(5e-3), "iqr_s": pytest.approx(4e-3),
                  "min_s": pytest.approx(1e-3), "n": 9}
    with pytest.raises(ValueError, match="no timing samples"):
        sample_stats([])


def test_block_calls_first_warmup_then_min_repeats():
    calls = []
    t = time_block(lambda: calls.append(time.perf_counter_ns()), budget_s=0.0, min_repeats=5)
    assert len(calls) == 7 and len(t.samples_ns) == 5  # first + warm-up + 5 timed
    assert all(isinstance(s, int) and s >= 0 for s in t.samples_ns)


def test_first_call_is_kept_apart_from_the_samples():
    state = {"first": True}

    def fn():
        time.sleep(0.05 if state["first"] else 0.001)
        state["first"] = False

    t = time_block(fn, budget_s=0.02, min_repeats=3, max_repeats=50)
    assert t.first_call_s >= 0.05
    assert min(t.samples_ns) >= 1_000_000  # sleep(1 ms) never returns early
    assert t.stats()["median_s"] < 0.05
    assert 3 <= len(t.samples_ns) <= 50


def test_budget_and_max_repeats_bound_the_block():
    t = time_block(lambda: None, budget_s=10.0, min_repeats=2, max_repeats=40)
    assert len(t.samples_ns) == 40
    t = time_block(lambda: time.sleep(0.002), budget_s=0.03, min_repeats=1)
    assert 1 <= len(t.samples_ns) <= 16  # ~15 x 2 ms fit in 30 ms, plus the one in flight
    with pytest.raises(ValueError):
        time_block(lambda: None, min_repeats=0)


def test_to_dict_keeps_raw_samples():
    d = Timing((3, 1, 2), 0.5).to_dict()
    assert d["samples_ns"] == [3, 1, 2] and d["first_call_s"] == 0.5
    assert d["median_s"] == pytest.approx(2e-9) and d["n"] == 3


def test_thread_limit_sets_and_restores_every_pool():
    before = numba.get_num_threads()
    with thread_limit(1):
        assert numba.get_num_threads() == 1
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with thread_limit(numba.config.NUMBA_NUM_THREADS + 1):
            pass
