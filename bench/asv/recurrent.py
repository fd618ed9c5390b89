"""RNN and LSTM benchmarks: full-BPTT time, peak memory, decay over sequence length."""

import math

from vgbench.speed.memory import measure_peak_memory

from . import common

CELLS = ["rnn", "lstm"]


class RecurrentBPTT:
    """One ``loss_and_grads`` call (forward, MSE at the last step, full BPTT), batch 64."""

    params = [CELLS, [10, 100], [32, 128], common.DTYPES]
    param_names = ["cell", "seq_len", "hidden", "dtype"]

    def setup(self, cell, seq_len, hidden, dtype):
        self.model, self.x, self.y = common.recurrent_case(cell, seq_len, hidden, dtype)
        self.model.loss_and_grads(self.x, self.y)  # compile / load the cache, never timed

    def time_bptt(self, cell, seq_len, hidden, dtype):
        self.model.loss_and_grads(self.x, self.y)


class RecurrentBPTTCUDA:
    """The same call with ``backend="cuda"`` (transfers included); skipped without a GPU."""

    params = [CELLS, [100, 300], [128, 512], common.DTYPES]
    param_names = ["cell", "seq_len", "hidden", "dtype"]

    def setup(self, cell, seq_len, hidden, dtype):
        common.require_cuda()
        self.model, self.x, self.y = common.recurrent_case(cell, seq_len, hidden, dtype)
        self.model.loss_and_grads(self.x, self.y, backend="cuda")

    def time_bptt(self, cell, seq_len, hidden, dtype):
        self.model.loss_and_grads(self.x, self.y, backend="cuda")


class RecurrentPeakMem:
    """Peak resident memory of the largest configuration (T 300, hidden 256, batch 64)."""

    params = [CELLS, common.DTYPES]
    param_names = ["cell", "dtype"]

    def setup(self, cell, dtype):
        self.model, self.x, self.y = common.recurrent_case(cell, 300, 256, dtype)

    def peakmem_bptt(self, cell, dtype):
        self.model.loss_and_grads(self.x, self.y)


class RecurrentMemoryRatio:
    """Peak RSS of one BPTT call (T 300, hidden 256, batch 64) over the bytes of its stored
    activations, returned gradients left out (``vgbench.speed.memory``): 1.0 means the backward
    keeps nothing T-sized beyond the forward's caches."""

    params = [CELLS, common.DTYPES]
    param_names = ["cell", "dtype"]

    def setup(self, cell, dtype):
        self.model, _, _ = common.recurrent_case(cell, 1, 256, dtype)

    def track_peak_over_activations(self, cell, dtype):
        return common.rounded(
            measure_peak_memory(self.model, 300, common.BATCH)["ratio_without_outputs"], 4)

    track_peak_over_activations.unit = "peak RSS / activation bytes"


class RNNDecay:
    """Decay over time of a width-128 float64 RNN (``vgbench.analysis.decay``, 3 fixed seeds);
    distances as in ``MLPDecay`` (signed values: ``bench/decay_gate.py``)."""

    params = [common.ACTIVATIONS, ["xavier", "orthogonal"], [10, 100]]
    param_names = ["activation", "init", "seq_len"]

    def setup(self, activation, init, seq_len):
        self.summary = common.decay_summary("rnn", seq_len, activation=activation, init=init)

    def track_decades_changed(self, activation, init, seq_len):
        return common.decades_changed(self.summary)

    track_decades_changed.unit = "decades |log10(first/last)|"

    def track_log_rate(self, activation, init, seq_len):
        return common.log_rate(self.summary)

    track_log_rate.unit = "|ln rho| per step (1/depth scale)"

    def track_rho_over_bound(self, activation, init, seq_len):
        """Fitted rho over the Pascanu bound's rate (<= 1 while the bound holds)."""
        rates = self.summary["pascanu_rate"]
        bound = math.exp(sum(math.log(r) for r in rates) / len(rates))
        return common.rounded(common.fitted_factor(self.summary) / bound)

    track_rho_over_bound.unit = "rho / bound rate"


class LSTMDecay:
    """Decay over time of a width-128 float64 LSTM, forget-gate bias 1."""

    params = [common.INITS, [10, 100]]
    param_names = ["init", "seq_len"]

    def setup(self, init, seq_len):
        self.summary = common.decay_summary("lstm", seq_len, init=init)

    def track_decades_changed(self, init, seq_len):
        return common.decades_changed(self.summary)

    track_decades_changed.unit = "decades |log10(first/last)|"

    def track_log_rate(self, init, seq_len):
        return common.log_rate(self.summary)

    track_log_rate.unit = "|ln rho| per step (1/depth scale)"
