"""Reports: versioned result files (``results``), text and Markdown tables (``tables``),
PNG plots (``plotting`` and the ``*plots`` modules), and the ``vgbench run`` report
(``summary``: its sections and ``summary.md``; ``remedies``: the remedies section).

May import: ``vgbench.speed``, ``vgbench.training``, ``vgbench.analysis``, ``vgbench.env``,
``vgbench.models``, ``vgbench.backends``, ``vgbench.kernels``.
"""
