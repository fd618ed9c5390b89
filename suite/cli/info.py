"""``vgbench info``: print the machine fingerprint."""

import json
import sys

HELP = "print the machine fingerprint (CPU, SIMD, versions, threading, BLAS, CUDA)"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.add_argument("--calibrate-gemm", action="store_true",
                        help="measure the GEMM providers again (a few seconds; run it on a "
                             "quiet machine) and cache the rates for the next processes")


def _gemm_lines(kg: dict) -> list[str]:
    """The kernels' GEMM binding as a table: provider per shape class, calibrated rates."""
    from vgbench.kernels.gemm_choice import mean_rate

    out = [f"{'kernel_gemm':24s} {kg['backend']} (spec {kg['spec']}, {kg['source']})"]
    for name, p in kg["providers"].items():
        out.append(f"{'  provider':24s} {name} {p['version']} {p['abi']} {p['path']}")
    if kg["classes"] is None:
        return out
    rates = kg.get("calibration") or {}
    for cls, per in kg["classes"].items():
        cells = []
        for dtype, chosen in per.items():
            measured = rates.get(cls, {}).get(dtype, {})
            gf = ", ".join(f"{n} {mean_rate(v):.1f}" for n, v in measured.items())
            cells.append(f"{dtype} {chosen}" + (f" [GF/s 1 thread: {gf}]" if gf else ""))
        out.append(f"{'  ' + cls:24s} " + "; ".join(cells))
    return out


def _owner(path: str | None) -> str:
    """Which package ships a shared library, from its path (numpy.libs/ -> NumPy)."""
    for folder, name in (("numpy.libs", "NumPy"), ("scipy.libs", "SciPy"), ("torch", "PyTorch"),
                         ("jaxlib", "JAX")):
        if path and f"/{folder}/" in path:
            return name
    return "system" if path else "unknown"


def _blas_line(lib: dict) -> str:
    """One pool: what it is, whose it is, its kernels and threads; no 'None' fields."""
    parts = [lib.get("internal_api") or lib.get("user_api") or "?"]
    if lib.get("version"):
        parts.append(lib["version"])
    parts.append(f"({_owner(lib.get('filepath'))})")
    if lib.get("architecture"):
        parts.append(f"core={lib['architecture']}")
    parts.append(f"threads={lib.get('num_threads')}")
    return " ".join(parts)


def _value(key: str, value) -> str | None:
    """A fingerprint value as text; None for values not known on this machine."""
    if value is None:
        return None
    if key == "ram":
        return f"{value / 2 ** 30:.1f} GiB"
    if key == "caches":
        return ", ".join(f"{k} {v // 1024} KiB" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    return str(value)


def run(args) -> int:
    from vgbench.env.fingerprint import fingerprint, warnings

    if args.calibrate_gemm:
        from vgbench.kernels.gemm_choice import cache_key, calibrate, save_cached
        from vgbench.kernels.gemm_providers import discover

        found = discover()
        save_cached(cache_key(found), calibrate(found))
        print("GEMM calibration cached; it applies from the next vgbench process on",
              file=sys.stderr)
    fp = fingerprint()
    if args.calibrate_gemm:  # show the new choice, not the one this process bound at start
        from vgbench.kernels.gemm_choice import describe, resolve

        fp["kernel_gemm"] = {"backend": "next processes", **describe(resolve())}
    if args.json:
        print(json.dumps(fp, indent=1))
        return 0
    for key, value in fp.items():
        if key == "blas":
            for lib in value:
                print(f"{'blas':24s} {_blas_line(lib)}")
        elif key == "kernel_gemm":
            print("\n".join(_gemm_lines(value)))
        elif key == "cuda_device" and value is None:
            print(f"{key:24s} none")
        elif key != "cpu_flags":
            text = _value(key, value)
            if text is not None:
                print(f"{key:24s} {text}")
    for warning in warnings(fp):
        print(f"warning: {warning}", file=sys.stderr)
    return 0
