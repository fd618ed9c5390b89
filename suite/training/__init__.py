"""Training: SGD on the kernels with per-step records of the symptoms (``train``) and the
seeded synthetic tasks it runs on (``tasks``); the remedies' experiments: L2 on an
exploding net (``weight_decay``), echo state networks on the tasks and memory capacity
(``esn``), layer-wise pre-training (``pretrain``), a genetic algorithm (``evolution``).

May import: ``vgbench.cluster`` (experiments as tasks), ``vgbench.analysis`` (clipping),
``vgbench.models``, ``vgbench.backends``, ``vgbench.kernels``.
"""
