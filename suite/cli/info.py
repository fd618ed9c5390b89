"""``vgbench info``: print the machine fingerprint."""

import json
import sys

HELP = "print the machine fingerprint (CPU, SIMD, versions, threading, BLAS, CUDA)"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


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

    fp = fingerprint()
    if args.json:
        print(json.dumps(fp, indent=1))
        return 0
    for key, value in fp.items():
        if key == "blas":
            for lib in value:
                print(f"{'blas':24s} {_blas_line(lib)}")
        elif key == "kernel_gemm":
            print(f"{key:24s} {value['backend']} ({_owner(value.get('library'))}: "
                  f"{value.get('library')})")
        elif key == "cuda_device" and value is None:
            print(f"{key:24s} none")
        elif key != "cpu_flags":
            text = _value(key, value)
            if text is not None:
                print(f"{key:24s} {text}")
    for warning in warnings(fp):
        print(f"warning: {warning}", file=sys.stderr)
    return 0
