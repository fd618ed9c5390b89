"""Speed: the timer (``timing``), the machine's ceiling (``ceiling``), flop counts
(``flops``), the implementations timed side by side (``baselines``, ``numpy_ref``), the
sweep (``sweep``), comparisons of result files (``compare``) and BPTT peak memory
(``memory``).  It measures and returns data; tables and plots live in ``vgbench.report``.

May import: ``vgbench.cluster`` (sweeps on every worker of a cluster: ``fleet``),
``vgbench.env``, ``vgbench.models``, ``vgbench.backends``, ``vgbench.kernels``.
"""
