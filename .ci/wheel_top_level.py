"""Fail unless a wheel's top-level names are exactly ``vgbench`` and its dist-info."""

import sys
import zipfile

names = {n.split("/")[0] for n in zipfile.ZipFile(sys.argv[1]).namelist()}
extra = {n for n in names if n != "vgbench" and not n.endswith(".dist-info")}
print(f"wheel top level: {', '.join(sorted(names))}")
if extra or "vgbench" not in names:
    sys.exit(f"unexpected top-level names in the wheel: {sorted(extra) or 'no vgbench'}")
