"""Gradient analysis: decay probes and fits (``decay``), what theory predicts (``theory``:
mean field, the Pascanu bound, variance scaling), gradient clipping (``clip``).

May import: ``vgbench.cluster`` (where sweeps run), ``vgbench.models``,
``vgbench.backends``, ``vgbench.kernels``.
"""
