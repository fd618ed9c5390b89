"""asv benchmark suite of vgbench (asv imports every module here; see README)."""
