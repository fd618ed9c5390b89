"""``vgbench info``: print the machine fingerprint."""

import json
import sys

HELP = "print the machine fingerprint (CPU, SIMD, versions, threading, BLAS, CUDA)"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def run(args) -> int:
    from vgbench.env.fingerprint import fingerprint, warnings

    fp = fingerprint()
    if args.json:
        print(json.dumps(fp, indent=1))
        return 0
    for key, value in fp.items():
        if key == "blas":
            for lib in value:
                print(f"{'blas':24s} {lib['internal_api']} {lib['version']} "
                      f"core={lib['architecture']} threads={lib['num_threads']}")
        elif key != "cpu_flags":
            print(f"{key:24s} {value}")
    for warning in warnings(fp):
        print(f"warning: {warning}", file=sys.stderr)
    return 0
