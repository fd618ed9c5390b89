"""Models: ``MLP``, ``RNN``, ``LSTM``, ``ESN`` (parameters, initialisers, input checks, results).

A model owns its live parameters and validates every input; its forward and backward run
on a backend (``vgbench.backends``) through the public call records of
``vgbench.backends.calls``.

May import: ``vgbench.backends``, ``vgbench.kernels``.
"""

from vgbench.models.esn import ESN
from vgbench.models.mlp import MLP
from vgbench.models.params import GradResult, LiveParams
from vgbench.models.recurrent import LSTM, RNN

MODELS = ("mlp", "rnn", "lstm")

__all__ = ["MLP", "RNN", "LSTM", "ESN", "GradResult", "LiveParams", "MODELS"]
