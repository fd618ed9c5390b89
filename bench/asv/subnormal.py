"""The time cost of subnormal gradients per machine: keep (IEEE) time / flush (FTZ/DAZ) time.

On some CPUs arithmetic on subnormal operands is one to two orders of magnitude slower, so
the same long RNN/LSTM or deep MLP runs at very different speeds on two machines whose
FLOPs agree.  Cases as in the issue that measured it (``vgbench subnormal``'s defaults):
tanh RNN and LSTM, H 128, B 32, long T; sigmoid MLP, W 256, B 128, depth 200.
"""


class SubnormalPenalty:
    params = [["rnn", "lstm", "mlp"]]
    param_names = ["model"]
    timeout = 300

    def setup(self, model):
        from vgbench.env.denormals import SUPPORTED
        from vgbench.speed.subnormal import SubnormalCase, run_case

        if not SUPPORTED:
            raise NotImplementedError("denormal modes exist on x86-64 only")
        case = {"rnn": SubnormalCase("rnn", 300, 128, 32),
                "lstm": SubnormalCase("lstm", 600, 128, 32),
                "mlp": SubnormalCase("mlp", 200, 256, 128, activation="sigmoid")}[model]
        # Both modes timed here, alternating blocks, compile excluded (run_case).
        self.record = run_case(case, budget_s=1.0, blocks=3, torch=False)

    def track_subnormal_penalty(self, model):
        return self.record["penalty"]

    track_subnormal_penalty.unit = "keep time / flush time"

    def track_subnormal_fraction(self, model):
        return self.record["subnormal_fraction_keep"]

    track_subnormal_fraction.unit = "fraction of dL/dh entries subnormal"
