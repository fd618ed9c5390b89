"""Gradient analysis: decay probes and fits (``decay``), what theory predicts (``theory``:
mean field, the Pascanu bound and its leaky/skip form, variance scaling), gradient
clipping (``clip``), the eigenvalue picture of a linear RNN (``eigen``).

May import: ``vgbench.cluster`` (where sweeps run), ``vgbench.models``,
``vgbench.backends``, ``vgbench.kernels``.
"""
