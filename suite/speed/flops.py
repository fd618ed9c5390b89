"""Floating-point operation counts of one forward, and one forward+backward, pass.

Convention: only matrix products are counted, 2 flops per multiply-add (an (m, k) x (k, n)
product is 2 m k n), because they dominate and because the GEMM ceiling they are compared
with counts the same way.  Bias adds, activations, their derivatives and the loss are
O(B W) per layer against O(B W^2) and are left out; so GFLOP/s is "GEMM-equivalent".

Size letters: B batch, I input width, W hidden width, L hidden layers, O output width,
T sequence length, H hidden size.

MLP (widths d_0 = I, d_1..d_L = W, d_{L+1} = O):
    forward  = sum_{l=0..L} 2 B d_l d_{l+1}
             = 2 B (I W + (L - 1) W^2 + W O)
    backward = per layer, dW_l = h_l^T dz_l and dh_l = dz_l W_l^T (dh_0 = dL/dx is
               returned, so it is computed too): 2 x forward
RNN (h_t = f(x_t W_xh + h_{t-1} W_hh + b), readout on the last state h_T):
    forward  = 2 T B I H  (x_t W_xh)  +  2 T B H^2  (h_{t-1} W_hh, h_0 included)
             + 2 B H O    (readout)
    backward = dW_xh, dX (2 T B I H each), dW_hh, dh_{t-1} (2 T B H^2 each, dL/dh_0
               returned), dW_hy, dh_T (2 B H O each): 2 x forward
LSTM (gates (B, 4H) = x_t W_ih + h_{t-1} W_hh + b, order i, f, g, o):
    forward  = 2 T B I 4H + 2 T B H 4H + 2 B H O
    backward = 2 x forward, by the same pairing as the RNN

So forward+backward = 3 x forward for all three models.
"""

PASSES = ("forward", "fwd_bwd")


def mlp_forward_flops(B: int, I: int, W: int, L: int, O: int) -> int:
    """Matrix-product flops of one MLP forward pass."""
    dims = [I] + [W] * L + [O]
    return sum(2 * B * dims[l] * dims[l + 1] for l in range(L + 1))


def rnn_forward_flops(T: int, B: int, I: int, H: int, O: int) -> int:
    """Matrix-product flops of one Elman RNN forward pass with a readout on h_T."""
    return 2 * T * B * I * H + 2 * T * B * H * H + 2 * B * H * O


def lstm_forward_flops(T: int, B: int, I: int, H: int, O: int) -> int:
    """Matrix-product flops of one LSTM forward pass with a readout on h_T."""
    return 2 * T * B * I * 4 * H + 2 * T * B * H * 4 * H + 2 * B * H * O


def flops(model: str, pass_: str, *, B: int, I: int, size: int, O: int, depth: int = 1,
          seq_len: int = 1) -> int:
    """Flops of ``pass_`` ("forward" or "fwd_bwd") for ``model`` ("mlp", "rnn", "lstm").

    ``size`` is the MLP width W or the recurrent hidden size H.
    """
    if model == "mlp":
        fwd = mlp_forward_flops(B, I, size, depth, O)
    elif model == "rnn":
        fwd = rnn_forward_flops(seq_len, B, I, size, O)
    elif model == "lstm":
        fwd = lstm_forward_flops(seq_len, B, I, size, O)
    else:
        raise ValueError(f"unknown model {model!r}; valid: mlp, rnn, lstm")
    if pass_ not in PASSES:
        raise ValueError(f"unknown pass {pass_!r}; valid: {', '.join(PASSES)}")
    return fwd if pass_ == "forward" else 3 * fwd
