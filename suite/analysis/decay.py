"""Gradient-decay probes: per-layer / per-step gradient norms, fitted rates, diagnostics.

One probe builds a model (MLP at one depth, or RNN/LSTM at one sequence length), runs a
forward and backward pass and records the decay curve ||dL/dh_l|| (l = 1..L, or
t = 1..T), ||dL/dW_l||_F, and what went wrong: the first layer or step (in backward order,
i.e. counted down from the top) whose gradient norm overflowed to Inf/NaN or vanished to
exactly 0, the first layer whose forward activations overflowed, and the fraction of dead
units per layer (f'(z) = 0 for every example in the batch: ReLU units stuck below zero)
and of saturated ones (f'(z) below 1% of sup |f'| on every example: sigmoid/tanh units
pushed into their flat tails; ``saturated_fraction``).
On the CPU backend it also counts, per layer or step, the fraction of entries of dL/dh
(and dL/dc for the LSTM) that are subnormal and that are exactly zero (counted inside the
backward kernels from the bit patterns: a float32 gradient vanishes through the subnormal
range, where x86 arithmetic is slow, before it reaches 0), and the first layer/step (from
the top) with a subnormal entry.

A sweep repeats the probe over several sizes and seeds and summarises each size in log
space: geometric-mean curves with their log10 spread over seeds, and a least-squares fit
(scipy.stats.linregress) of log-norm against layer over the curve's interior, pooled over
seeds, reported as the per-layer backward factor rho = ||dL/dh_l|| / ||dL/dh_{l+1}||
(rho < 1 vanishing, > 1 exploding) with a 95% confidence interval, and as the geometric
mean ratio first/last (||dL/dh_1|| / ||dL/dh_L||).

By default the top gradient is an independent random cotangent and MLP inputs are drawn at
the mean-field fixed point q* (``vgbench.analysis.theory``), the setting in which the measured rate
is comparable with the predicted sqrt(chi_1); ``top="mse"`` and ``inputs="normal"`` give
the ordinary MSE loss on random targets and standard normal inputs.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from vgbench.analysis import theory
from vgbench.analysis.clip import clip_by_global_norm, global_norm
from vgbench.backends import BACKENDS
from vgbench.cluster.tasks import Task, TaskResult, run_tasks
from vgbench.kernels.activations import activation_code, derivative_array, gamma
from vgbench.models import LSTM, MLP, MODELS, RNN
from vgbench.models.init import check_init
from vgbench.models.validate import (
    check_choice,
    check_dtype,
    check_leak,
    check_positive_int,
    check_skip,
)

TOPS = ("random", "mse")
INPUTS = ("fixed_point", "normal")


@dataclass(frozen=True)
class DecayConfig:
    """One decay sweep; every field has a default, sizes come from ``depths``/``seq_lens``."""

    model: str = "mlp"            # "mlp", "rnn" or "lstm"
    activation: str = "tanh"      # hidden activation (MLP and RNN; the LSTM has its own)
    init: str = "xavier"          # weight init (models.init.INITS); input weights of RNN/LSTM
    sigma_w: float = 1.0          # scale of the "normal" init
    sigma_b: float = 0.0          # bias std of the "normal" init
    gain: float = 1.0             # gain of xavier / he / orthogonal / identity inits
    recurrent_init: str | None = None  # W_hh init for RNN/LSTM (None: same as init)
    forget_bias: float = 1.0      # LSTM forget-gate bias
    depths: tuple = (4, 8, 16, 32, 64)   # MLP depths L
    seq_lens: tuple = (10, 30, 100, 300)  # RNN/LSTM sequence lengths T
    width: int = 128              # hidden width (W or H)
    in_dim: int | None = None     # input width (None: width)
    out_dim: int = 1              # readout width O
    batch: int = 32               # examples per probe B
    residual: bool = False        # MLP skip connections
    batchnorm: bool = False       # MLP batch norm
    clip: float | None = None     # global-norm clipping threshold (report before/after)
    truncate: int | None = None   # truncated BPTT window (RNN/LSTM)
    seeds: int = 3                # independent draws per size
    dtype: str = "float64"        # "float32" or "float64"
    top: str = "random"           # "random" cotangent at the readout, or "mse" loss
    inputs: str = "fixed_point"   # MLP inputs at q* ("fixed_point") or N(0, 1) ("normal")
    backend: str = "cpu"          # "cpu", "cuda" or "auto" (see vgbench.backends)
    leak: float = 1.0             # RNN leak a in (0, 1] (1: the Elman RNN)
    skip: int = 0                 # RNN skip connection through time k (0: none, else >= 2)

    def __post_init__(self):
        check_choice("model", self.model, MODELS)
        activation_code(self.activation)
        check_init(self.init)
        if self.recurrent_init is not None:
            check_init(self.recurrent_init)
        check_dtype(self.dtype)
        check_choice("top", self.top, TOPS)
        check_choice("inputs", self.inputs, INPUTS)
        check_choice("backend", self.backend, BACKENDS)
        for name in ("width", "out_dim", "batch", "seeds"):
            check_positive_int(name, getattr(self, name))
        if self.in_dim is not None:
            check_positive_int("in_dim", self.in_dim)
        sizes = self.sizes
        if not sizes:
            raise ValueError("no sizes to sweep (depths / seq_lens is empty)")
        for s in sizes:
            check_positive_int("depth" if self.model == "mlp" else "seq_len", s)
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be > 0, got {self.clip}")
        if self.truncate is not None:
            check_positive_int("truncate", self.truncate)
        if self.sigma_w < 0 or self.sigma_b < 0:
            raise ValueError("sigma_w and sigma_b must be >= 0")
        check_leak(self.leak)
        check_skip(self.skip)
        if (self.leak != 1.0 or self.skip) and self.model != "rnn":
            raise ValueError(f"leak and skip are RNN options, not {self.model}'s")

    @property
    def sizes(self) -> tuple:
        """Depths (MLP) or sequence lengths (RNN/LSTM) of the sweep."""
        return tuple(self.depths if self.model == "mlp" else self.seq_lens)

    def as_dict(self) -> dict:
        return asdict(self)


def mean_field_for(config: DecayConfig) -> theory.MeanField | None:
    """Mean-field prediction for a plain MLP config (None: residual, batch norm, RNN/LSTM,
    or an init that is not i.i.d. random)."""
    if config.model != "mlp" or config.residual or config.batchnorm:
        return None
    sw = theory.effective_sigma_w(config.init, config.width, config.width,
                                  sigma_w=config.sigma_w, gain=config.gain)
    if sw is None or config.init == "orthogonal":
        return None
    sb = config.sigma_b if config.init == "normal" else 0.0
    return theory.mean_field(config.activation, sw, sb)


def first_from_top(bad: np.ndarray) -> int | None:
    """1-based index of the first True entry met in backward order (from the end)."""
    idx = np.flatnonzero(bad)
    return int(idx[-1]) + 1 if idx.size else None


def _build(config: DecayConfig, size: int, seed: int):
    in_dim = config.in_dim or config.width
    if config.model == "mlp":
        return MLP(in_dim, config.width, size, config.out_dim, activation=config.activation,
                   init=config.init, residual=config.residual, batchnorm=config.batchnorm,
                   dtype=config.dtype, seed=seed, sigma_w=config.sigma_w,
                   sigma_b=config.sigma_b, gain=config.gain)
    if config.model == "rnn":
        return RNN(in_dim, config.width, config.out_dim, activation=config.activation,
                   init=config.init, dtype=config.dtype, seed=seed,
                   recurrent_init=config.recurrent_init, sigma_w=config.sigma_w,
                   sigma_b=config.sigma_b, gain=config.gain, leak=config.leak,
                   skip=config.skip)
    return LSTM(in_dim, config.width, config.out_dim, init=config.init,
                forget_bias=config.forget_bias, dtype=config.dtype, seed=seed,
                recurrent_init=config.recurrent_init, gain=config.gain)


def probe(config: DecayConfig, size: int, seed: int,
          mean_field: theory.MeanField | None = None) -> dict:
    """One forward + backward pass at depth / length ``size``; curves and diagnostics."""
    model = _build(config, size, seed)
    rng = np.random.default_rng([seed, size, 1])
    dt = config.dtype
    in_dim = config.in_dim or config.width
    B, n_out = config.batch, config.out_dim
    if config.model == "mlp":
        q = mean_field.q_star if mean_field is not None else math.nan
        if config.inputs == "fixed_point" and 0.0 < q < math.inf:
            x = theory.fixed_point_inputs(config.activation, q, B, in_dim, rng, dt)
        else:
            x = rng.standard_normal((B, in_dim)).astype(dt)
    else:
        x = rng.standard_normal((size, B, in_dim)).astype(dt)
    kwargs = {"backend": config.backend, "count_subnormal": True}
    if config.model != "mlp" and config.truncate is not None:
        kwargs["truncate"] = config.truncate
    with np.errstate(all="ignore"):
        if config.top == "random":
            r = model.loss_and_grads(x, None, cotangent=rng.standard_normal((B, n_out)).astype(dt),
                                     **kwargs)
        else:
            r = model.loss_and_grads(x, rng.standard_normal((B, n_out)).astype(dt), **kwargs)
    curve = np.asarray(r.delta_norms, dtype=np.float64)
    out = {
        "curve": curve,
        "weight_curve": np.asarray(r.weight_grad_norms, dtype=np.float64),
        "first_nonfinite": first_from_top(~np.isfinite(curve)),
        "first_zero": first_from_top(curve == 0.0),
        "zero_is_underflow": _zero_is_underflow(curve, config.dtype),
        "output_finite": bool(np.isfinite(r.output).all()),
        "grad_norm": global_norm(r.grads),
        "dtype": config.dtype,
    }
    if r.cell_norms is not None:
        out["cell_curve"] = np.asarray(r.cell_norms, dtype=np.float64)
    if r.subnormal_counts is not None:
        out.update(_underflow_counts(r.subnormal_counts, x.shape[-2] * config.width))
    if config.model == "mlp":
        acts = model.activations(x)
        finite = np.isfinite(acts).all(axis=(1, 2))
        out["forward_first_nonfinite"] = (int(np.argmin(finite)) + 1
                                          if not finite.all() else None)
        out["dead_fraction"] = model.dead_fraction(x)
        out["saturated_fraction"] = saturated_fraction(config.activation, acts)
    if config.model == "rnn":
        if config.leak != 1.0 or config.skip:
            bound = theory.leaky_bound(model.params["W_hh"], config.activation, config.leak,
                                       model.params.get("W_skip"), config.skip)
        else:
            bound = theory.pascanu_bound(model.params["W_hh"], config.activation)
        out["pascanu"] = bound.as_dict()
        out["pascanu_violations"] = theory.bound_violations(curve, bound.rate)
    if config.clip is not None:
        clipped, _ = clip_by_global_norm(r.grads, config.clip, error_if_nonfinite=False)
        out["clipped_norm"] = global_norm(clipped)
    return out


def _underflow_counts(counts: np.ndarray, entries: int) -> dict:
    """Per layer/step fractions of subnormal and of exactly-zero entries of dL/dh (and of
    dL/dc: columns 2, 3 of an LSTM's counts) out of ``entries`` = B * width each, and the
    first layer/step from the top with a subnormal entry of dL/dh (or dL/dc)."""
    frac = counts / float(entries)
    out = {"subnormal_fraction": frac[:, 0], "zero_fraction": frac[:, 1],
           "first_subnormal": first_from_top(counts[:, 0::2].sum(axis=1) > 0)}
    if counts.shape[1] == 4:
        out["cell_subnormal_fraction"] = frac[:, 2]
        out["cell_zero_fraction"] = frac[:, 3]
    return out
# A unit is saturated when f'(z) < SATURATION * sup |f'| on every example of the batch:
# it passes less than 1% of the gradient a unit at its steepest point would pass.
SATURATION = 0.01


def saturated_fraction(activation: str, acts: np.ndarray) -> np.ndarray:
    """(L,) per hidden layer, the fraction of units with f'(z) < SATURATION * sup |f'| on
    every row; ``acts`` (L, B, W) are the hidden outputs (``MLP.activations``).  Dead ReLUs
    (f' = 0) count too; for sigmoid and tanh, whose f' is never 0 in exact arithmetic,
    this is the measure of saturation."""
    d = np.empty_like(acts)
    derivative_array(activation_code(activation), acts, d)
    return (np.abs(d) < SATURATION * gamma(activation)).all(axis=1).mean(axis=1)


def _zero_is_underflow(curve: np.ndarray, dtype: str) -> bool:
    """True when the first exact zero follows a norm within ten decades of the dtype's
    smallest normal number: the gradient's entries themselves underflowed to 0 in the
    arithmetic (the norms are exact at any scale, so a zero norm is a zero vector)."""
    k = first_from_top(curve == 0.0)
    return (k is not None and k < len(curve)
            and 0.0 < curve[k] < 1e10 * float(np.finfo(dtype).tiny))


def interior(n: int) -> slice:
    """Indices of a curve of length n used by the fit: about 10% trimmed at each end,
    where the input layer and the readout leave transients."""
    trim = 0 if n < 5 else max(1, n // 10)
    return slice(trim, n - trim)


def fit_decay(curves: np.ndarray) -> dict | None:
    """Least-squares fit of ln ||dL/dh_l|| against l, pooled over seeds, over the interior
    of the valid part of every curve (finite, > 0, counted down from the top until the
    first bad value).

    Returns the slope (per layer, upward), rho = exp(-slope) with a 95% CI, r^2 and the
    points used; None with fewer than 3 points.  Along a curve the log-norm is a random
    walk (independent per-layer increments in mean field), so linregress's iid-residual
    stderr is too optimistic; the CI uses the spread s of the increments instead, with
    the variance of a least-squares slope on a random walk of N steps, 6 s^2 / (5 N).
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    xs, ys = [], []
    for c in curves:
        bad = first_from_top(~(np.isfinite(c) & (c > 0)))
        start = 0 if bad is None else bad
        idx = np.arange(start, len(c))[interior(len(c) - start)]
        if idx.size >= 3:
            xs.append(idx + 1.0)
            ys.append(np.log(c[idx]))
    if not xs:
        return None
    # Imported here: scipy.stats takes 0.5 s to load, and every `vgbench` command's parser
    # imports this module for its option choices (cold start of `vgbench grad`).
    from scipy import stats

    res = stats.linregress(np.concatenate(xs), np.concatenate(ys))
    steps = np.concatenate([np.diff(y) for y in ys])
    half = (stats.t.ppf(0.975, steps.size - 1) * np.std(steps, ddof=1)
            * math.sqrt(1.2 / steps.size))
    return {"slope": res.slope, "rho": math.exp(-res.slope),
            "rho_ci95": [math.exp(-res.slope - half), math.exp(-res.slope + half)],
            "r2": res.rvalue ** 2, "points": int(sum(x.size for x in xs)),
            "seeds": len(xs)}


def _log10(a: np.ndarray) -> np.ndarray:
    """log10 with 0, Inf and NaN mapped to NaN (left out of log-space averages)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(a)
    out[~np.isfinite(out)] = np.nan
    return out


def geomean_curve(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geometric mean over seeds and the log10 standard deviation, per layer (NaN where no
    seed has a finite positive value)."""
    logs = _log10(curves)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return 10.0 ** np.nanmean(logs, axis=0), np.nanstd(logs, axis=0)


def aggregate_seeds(size: int, probes: list[dict],
              mean_field: theory.MeanField | None) -> dict:
    """Aggregate the seeds of one size: curves, fit, ratio, diagnostics, theory gap."""
    curves = np.array([p["curve"] for p in probes])
    mean, spread = geomean_curve(curves)
    w_mean, _ = geomean_curve(np.array([p["weight_curve"] for p in probes]))
    with np.errstate(all="ignore"):
        ratios = curves[:, 0] / curves[:, -1]
    finite_ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    fit = fit_decay(curves) if size >= 3 else None
    s = {
        "size": size,
        "curve_geomean": mean,
        "curve_log10_std": spread,
        "weight_curve_geomean": w_mean,
        "fit": fit,
        "first_last_ratio": (float(np.exp(np.mean(np.log(finite_ratios))))
                             if finite_ratios.size else math.nan),
        "nonfinite_seeds": sum(p["first_nonfinite"] is not None for p in probes),
        "first_nonfinite": _topmost([p["first_nonfinite"] for p in probes]),
        "zero_seeds": sum(p["first_zero"] is not None for p in probes),
        "first_zero": _topmost([p["first_zero"] for p in probes]),
        "zero_is_underflow": any(p["zero_is_underflow"] for p in probes),
        "output_nonfinite_seeds": sum(not p["output_finite"] for p in probes),
        "grad_norm_geomean": _geomean([p["grad_norm"] for p in probes]),
    }
    if "cell_curve" in probes[0]:
        s["cell_curve_geomean"] = geomean_curve(np.array([p["cell_curve"] for p in probes]))[0]
    if "subnormal_fraction" in probes[0]:
        s["dtype"] = probes[0]["dtype"]
        s["first_subnormal"] = _topmost([p["first_subnormal"] for p in probes])
        for key in ("subnormal_fraction", "zero_fraction", "cell_subnormal_fraction",
                    "cell_zero_fraction"):
            if key in probes[0]:
                s[key] = np.mean([p[key] for p in probes], axis=0)
    if "dead_fraction" in probes[0]:
        s["dead_fraction"] = np.mean([p["dead_fraction"] for p in probes], axis=0)
        s["saturated_fraction"] = np.mean([p["saturated_fraction"] for p in probes], axis=0)
        fwd = [p["forward_first_nonfinite"] for p in probes]
        s["forward_first_nonfinite"] = min((f for f in fwd if f is not None), default=None)
    if "pascanu" in probes[0]:
        s["pascanu_rate"] = [p["pascanu"]["rate"] for p in probes]
        s["pascanu_vanishing_sufficient"] = [p["pascanu"]["vanishing_sufficient"]
                                             for p in probes]
        s["pascanu_violations"] = sum(len(p["pascanu_violations"]) for p in probes)
    if "clipped_norm" in probes[0]:
        s["clipped_norm_geomean"] = _geomean([p["clipped_norm"] for p in probes])
    if mean_field is not None and fit is not None and mean_field.rho > 0:
        s["rho_predicted"] = mean_field.rho
        s["rho_rel_diff"] = (fit["rho"] - mean_field.rho) / mean_field.rho
    return s


def _topmost(layers: list) -> int | None:
    """The highest 1-based index (met first by the backward pass) among seeds."""
    return max((v for v in layers if v is not None), default=None)


def _geomean(values: list) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.exp(np.mean(np.log(v)))) if v.size else math.nan


def probe_tasks(config: DecayConfig, mean_field: theory.MeanField | None) -> list[Task]:
    """One task per (size, seed), sizes outer: ``probe(config, size, seed, mean_field)``,
    a pure function of its arguments (the model and its inputs are seeded from them)."""
    return [Task(f"decay {config.model} {config.activation} size={size} seed={seed}", probe,
                 (config, size, seed, mean_field))
            for size in config.sizes for seed in range(config.seeds)]


def sweep(config: DecayConfig, progress: bool = True,
          on_size: Callable[[dict], None] | None = None, scheduler: str | None = None) -> dict:
    """Probe every size x seed; return {"config": the config as a dict, "theory": ...,
    "sizes": [summary per size]}.

    ``on_size(partial_data)`` is called after each size (e.g. to write the JSON so far,
    so an interrupted sweep keeps what it measured); ``data["sizes"]`` is in config order
    and holds the sizes whose seeds have all finished.  ``scheduler`` (``vgbench.cluster``:
    None in-process, "local", or a Dask address) runs the probes as tasks there; each
    size then also lists, per seed, the ``workers`` that computed it.
    """
    mf = mean_field_for(config)
    data = {"config": config.as_dict(),
            "theory": {"mean_field": mf.as_dict() if mf is not None else None},
            "sizes": []}
    tasks = probe_tasks(config, mf)
    seeds = config.seeds
    done: dict[int, list] = {}
    summaries: dict[int, dict] = {}

    def gathered(i: int, result: TaskResult) -> None:
        k = i // seeds  # index of the size (sizes may repeat)
        done.setdefault(k, []).append((i, result))
        if len(done[k]) < seeds:
            return
        ordered = [r for _, r in sorted(done[k], key=lambda pair: pair[0])]
        summaries[k] = aggregate_seeds(config.sizes[k], [r.value for r in ordered], mf)
        if scheduler is not None:
            summaries[k]["workers"] = [r.worker for r in ordered]
        data["sizes"] = [summaries[j] for j in sorted(summaries)]
        if on_size is not None:
            on_size(data)

    run_tasks(tasks, scheduler, progress, on_result=gathered, desc=f"decay {config.model}",
              unit="probe")
    return data
