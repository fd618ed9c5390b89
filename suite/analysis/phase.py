"""The order/chaos phase diagram of gradient decay (Schoenholz et al. 2017, "Deep
Information Propagation"): the measured per-layer gradient factor rho over a grid of
sigma_w x sigma_b for tanh, and over sigma_w for ReLU, against mean field sqrt(chi_1).

Every (activation, sigma_w, sigma_b, seed) is one task: ``decay.probe`` of a depth-L,
width-N MLP with ``normal`` init (weights N(0, sigma_w^2 / N), biases N(0, sigma_b^2)),
inputs at the fixed point q* and an independent random top cotangent; the model and its
inputs are seeded from (seed, L) only, so a task's result depends on its arguments alone.
Per grid point ``decay.fit_decay`` pools the seeds' curves into rho with a 95% CI; theory
is ``theory.mean_field`` and the edge chi_1 = 1 is ``theory.critical_sigma_w``.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from vgbench.analysis import theory
from vgbench.analysis.decay import DecayConfig, fit_decay, probe
from vgbench.cluster.tasks import Task, TaskResult, run_tasks
from vgbench.models.validate import check_dtype, check_positive_int

EDGE_POINTS = 25  # sigma_b values on which the tanh edge chi_1 = 1 is drawn


@dataclass(frozen=True)
class PhaseConfig:
    """The grid and the nets probed on it."""

    sigma_ws: tuple = tuple(round(0.5 + 0.125 * i, 3) for i in range(21))  # tanh: 0.5..3.0
    sigma_bs: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)                        # tanh bias scales
    relu_sigma_ws: tuple = tuple(round(1.0 + 0.1 * i, 2) for i in range(11))  # ReLU, sigma_b 0
    depth: int = 32        # hidden layers L
    width: int = 128       # hidden width N
    batch: int = 32        # examples per probe B
    seeds: int = 3         # independent nets per grid point
    dtype: str = "float64"

    def __post_init__(self):
        if not self.sigma_ws or not self.sigma_bs:
            raise ValueError("sigma_ws and sigma_bs must not be empty")
        for name in ("sigma_ws", "sigma_bs", "relu_sigma_ws"):
            for v in getattr(self, name):
                if not (math.isfinite(v) and v >= 0):
                    raise ValueError(f"{name} must be finite and >= 0, got {v}")
        for name in ("width", "batch", "seeds"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("depth", self.depth, minimum=5)  # the fit needs an interior
        check_dtype(self.dtype)

    def as_dict(self) -> dict:
        return asdict(self)


def grid_points(config: PhaseConfig) -> list[tuple[str, float, float]]:
    """(activation, sigma_w, sigma_b) of every grid point: tanh (sigma_b outer), then ReLU."""
    return ([("tanh", sw, sb) for sb in config.sigma_bs for sw in config.sigma_ws]
            + [("relu", sw, 0.0) for sw in config.relu_sigma_ws])


def decay_config(config: PhaseConfig, activation: str, sigma_w: float,
                 sigma_b: float) -> DecayConfig:
    """The decay probe's config at one grid point."""
    return DecayConfig(activation=activation, init="normal", sigma_w=sigma_w, sigma_b=sigma_b,
                       depths=(config.depth,), width=config.width, batch=config.batch,
                       seeds=config.seeds, dtype=config.dtype)


def phase_tasks(config: PhaseConfig) -> list[Task]:
    """One task per grid point and seed (points outer), each ``decay.probe``."""
    tasks = []
    for act, sw, sb in grid_points(config):
        cfg = decay_config(config, act, sw, sb)
        mf = theory.mean_field(act, sw, sb)
        tasks += [Task(f"phase {act} sw={sw:g} sb={sb:g} seed={seed}", probe,
                       (cfg, config.depth, seed, mf)) for seed in range(config.seeds)]
    return tasks


def _case(point: tuple, seed: int, result: TaskResult) -> dict:
    act, sw, sb = point
    curve = np.asarray(result.value["curve"], dtype=np.float64)
    with np.errstate(all="ignore"):
        ratio = float(curve[0] / curve[-1])
    return {"activation": act, "sigma_w": sw, "sigma_b": sb, "seed": seed,
            "curve": curve, "first_last_ratio": ratio, "worker": result.worker}


def _point_summary(cases: list[dict], activation: str, sigma_w: float,
                   sigma_b: float) -> dict:
    """Fit over the seeds present, theory, and their gap at one grid point."""
    mf = theory.mean_field(activation, sigma_w, sigma_b)
    fit = fit_decay(np.array([c["curve"] for c in cases])) if cases else None
    rho = fit["rho"] if fit is not None else math.nan
    ci = fit["rho_ci95"] if fit is not None else [math.nan, math.nan]
    return {"rho": rho, "rho_ci95": ci, "seeds": len(cases), "theory_rho": mf.rho,
            "chi_1": mf.chi_1, "q_star": mf.q_star, "regime": mf.regime,
            "abs_diff": abs(rho - mf.rho)}


def edge_line(sigma_bs: tuple) -> dict:
    """sigma_w of the tanh edge chi_1 = 1 on ``EDGE_POINTS`` sigma_b values spanning
    ``sigma_bs`` (NaN where no edge lies in the root bracket), and ReLU's edge."""
    lo, hi = min(sigma_bs), max(sigma_bs)
    bs = np.linspace(lo, hi, EDGE_POINTS) if hi > lo else np.array([lo])
    ws = []
    for sb in bs:
        try:
            ws.append(theory.critical_sigma_w("tanh", float(sb)))
        except ValueError:  # brentq: chi_1 - 1 has no sign change in its bracket
            ws.append(math.nan)
    return {"tanh": {"sigma_b": bs.tolist(), "sigma_w": ws},
            "relu": {"sigma_b": 0.0, "sigma_w": theory.critical_sigma_w("relu", 0.0)}}


def summarize(config: PhaseConfig, cases: list[dict]) -> dict:
    """The phase ``data`` from per-task cases (any subset: missing points give NaN).

    ``tanh``: (len(sigma_bs), len(sigma_ws)) grids ``rho``, ``rho_ci95_low/high``,
    ``theory_rho``, ``chi_1``, ``abs_diff``; ``relu``: the same as lists over
    ``relu_sigma_ws``; ``edge``: ``edge_line``; ``cases``: every task's curve and worker.
    """
    by_point: dict[tuple, list] = {}
    for c in cases:
        by_point.setdefault((c["activation"], c["sigma_w"], c["sigma_b"]), []).append(c)
    points = {p: _point_summary(sorted(by_point.get(p, []), key=lambda c: c["seed"]), *p)
              for p in grid_points(config)}
    fields = ("rho", "theory_rho", "chi_1", "abs_diff", "seeds")

    def table(keys: list) -> dict:
        out = {f: [points[k][f] for k in keys] for f in fields}
        out["rho_ci95_low"] = [points[k]["rho_ci95"][0] for k in keys]
        out["rho_ci95_high"] = [points[k]["rho_ci95"][1] for k in keys]
        out["regime"] = [points[k]["regime"] for k in keys]
        return out

    tanh = [table([("tanh", sw, sb) for sw in config.sigma_ws]) for sb in config.sigma_bs]
    data = {"tanh": {"sigma_w": list(config.sigma_ws), "sigma_b": list(config.sigma_bs),
                     **{f: [row[f] for row in tanh] for f in tanh[0]}},
            "relu": {"sigma_w": list(config.relu_sigma_ws), "sigma_b": 0.0,
                     **table([("relu", sw, 0.0) for sw in config.relu_sigma_ws])},
            "edge": edge_line(config.sigma_bs),
            "cases": cases}
    return data


def phase_diagram(config: PhaseConfig, scheduler: str | None = None, progress: bool = True,
                  on_case: Callable[[dict], None] | None = None) -> dict:
    """Run every task (``phase_tasks``) where ``scheduler`` says (``vgbench.cluster``) and
    return ``summarize`` of the gathered cases (in task order).  ``on_case(case)`` sees
    each case as it finishes (to keep them if the run is interrupted)."""
    points = grid_points(config)
    tasks = phase_tasks(config)
    cases: list[dict | None] = [None] * len(tasks)

    def gathered(i: int, result: TaskResult) -> None:
        cases[i] = _case(points[i // config.seeds], i % config.seeds, result)
        if on_case is not None:
            on_case(cases[i])

    run_tasks(tasks, scheduler, progress, on_result=gathered, desc="phase", unit="probe")
    return summarize(config, cases)
