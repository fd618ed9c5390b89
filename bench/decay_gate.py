"""Exact-equality gate for the deterministic decay numbers the asv suite tracks.

The decay tracks (``bench/asv``: ``MLPDecay``, ``MLPDecayTheory``, ``RNNDecay``,
``LSTMDecay``) use fixed seeds, so a tracked value that moves means the code changed.
asv cannot gate them: it compares with a ratio factor (``-f 1.10`` lets rho go from 0.95
to 1.02, vanishing to exploding, unflagged), reads every value as lower-is-better, and
tracks distances, which drop the direction.  This gate keeps the signed values (rho, log10
first/last, the gap to mean-field theory) of the same cases, rounded as the tracks are
(6 significant digits), and requires them to be identical::

    python bench/decay_gate.py save base.json     # on the base commit
    python bench/decay_gate.py check base.json    # on the new one: exit 1 on any change

Run it on the same machine type (float64 BLAS results may differ across CPUs by more than
the rounding).  An intended change: review the listed differences, then save a new base.
"""

import importlib.util
import json
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "vgbench_asv_common", Path(__file__).resolve().parent / "asv" / "common.py")
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

# The asv decay classes' grids: (model, size, config).
MLP_DEPTHS = (10, 50)
CASES = ([("mlp", d, {"activation": a, "init": i}) for a in common.ACTIVATIONS
          for i in common.INITS for d in MLP_DEPTHS]
         + [("rnn", t, {"activation": a, "init": i}) for a in common.ACTIVATIONS
            for i in ("xavier", "orthogonal") for t in (10, 100)]
         + [("lstm", t, {"init": i}) for i in common.INITS for t in (10, 100)])


def case_key(model: str, size: int, config: dict) -> str:
    return " ".join([model, *(f"{k}={v}" for k, v in sorted(config.items())), str(size)])


def values(cases=CASES) -> dict[str, dict]:
    """case key -> {"rho", "log10_first_last", "theory_rel_diff" (where theory applies)}."""
    out = {}
    for model, size, config in cases:
        s = common.decay_summary(model, size, **config)
        v = {"rho": common.rounded(common.fitted_factor(s)),
             "log10_first_last": common.rounded(common.log10_ratio(s))}
        if "rho_rel_diff" in s:
            v["theory_rel_diff"] = common.rounded(s["rho_rel_diff"])
        out[case_key(model, size, config)] = v
    return out


def differences(base: dict, new: dict) -> list[str]:
    """Every value that is not identical, and every case only one side has."""
    out = []
    for key in sorted(set(base) | set(new)):
        if key not in base or key not in new:
            out.append(f"{key}: only in {'new' if key in new else 'base'}")
            continue
        for name in sorted(set(base[key]) | set(new[key])):
            a, b = base[key].get(name), new[key].get(name)
            if a != b:
                out.append(f"{key} {name}: {a} -> {b}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("save", "check"):
        print(__doc__.split("::")[1].split("Run it")[0].rstrip(), file=sys.stderr)
        return 2
    path = Path(argv[1])
    current = values()
    if argv[0] == "save":
        path.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"saved {len(current)} decay cases to {path}")
        return 0
    diffs = differences(json.loads(path.read_text()), current)
    for line in diffs:
        print(line)
    print(f"{len(diffs)} difference(s) in {len(current)} decay cases" if diffs
          else f"all {len(current)} decay cases identical to {path}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
