"""Training: SGD on the kernels with per-step records of the symptoms (``train``) and the
seeded synthetic tasks it runs on (``tasks``).

May import: ``vgbench.cluster`` (experiments as tasks), ``vgbench.analysis`` (clipping),
``vgbench.models``, ``vgbench.backends``, ``vgbench.kernels``.
"""
