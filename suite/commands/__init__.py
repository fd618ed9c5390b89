"""Sub-commands of ``vgbench``: each module here becomes ``vgbench <module name>``."""
