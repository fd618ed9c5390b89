"""Activation functions, their derivatives and their gain bound gamma = sup |f'(x)|.

Every activation has an integer code (passed to kernels, never a jitted function: that
would make each call a cache miss).  Derivatives are written from the saved *output*
y = f(z), which every kernel keeps anyway:

==========  ===============================  ==========================  ===========
name        f(z)                             f'(z) from y = f(z)          gamma
==========  ===============================  ==========================  ===========
identity    z                                1                            1
sigmoid     1 / (1 + e^-z)  (stable form)    y (1 - y)                    1/4 at z=0
tanh        tanh z                           1 - y^2                      1 at z=0
relu        max(z, 0)                        1 if y > 0 else 0            1
leaky_relu  z if z > 0 else 0.01 z           1 if y > 0 else 0.01         1
elu         z if z > 0 else e^z - 1          1 if y > 0 else y + 1        1
selu        s z if z > 0 else s a (e^z - 1)  s if y > 0 else y + s a      s a ~ 1.7581
softplus    log(1 + e^z)   (stable form)     1 - e^-y  (= sigmoid(z))     1 (sup)
==========  ===============================  ==========================  ===========

Conventions: ReLU'(0) = 0 (and leaky/ELU/SELU take their left branch at 0), matching
PyTorch.  Recovering f' from y is exact for every row above because each f is strictly
monotone or, for ReLU, zero exactly where its derivative is taken to be zero.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from vgbench.kernels.config import FASTMATH, JIT_OPTIONS

IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SELU, SOFTPLUS = range(8)

ACTIVATIONS = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "selu": SELU,
    "softplus": SOFTPLUS,
}

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

# sup over z of |f'(z)|: the gamma of Pascanu et al. (2013).
GAMMA = {
    "identity": 1.0,
    "sigmoid": 0.25,
    "tanh": 1.0,
    "relu": 1.0,
    "leaky_relu": 1.0,
    "elu": ELU_ALPHA,
    "selu": SELU_SCALE * SELU_ALPHA,
    "softplus": 1.0,
}

def activation_code(name: str) -> int:
    """Return the kernel code of activation ``name``; ValueError lists the valid names."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[name]


@njit(**JIT_OPTIONS)
def activate(code, z):
    """f(z) for activation ``code`` on one scalar; stable for |z| up to float range."""
    if code == TANH:
        return math.tanh(z)
    if code == SIGMOID:
        # Two branches so exp never sees a large positive argument.
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    if code == RELU:
        return z if z > 0.0 else 0.0 * z  # 0 * z keeps NaN a NaN
    if code == LEAKY_RELU:
        return z if z > 0.0 else LEAKY_SLOPE * z
    if code == ELU:
        return z if z > 0.0 else ELU_ALPHA * math.expm1(z)
    if code == SELU:
        return SELU_SCALE * z if z > 0.0 else SELU_SCALE * SELU_ALPHA * math.expm1(z)
    if code == SOFTPLUS:
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow, exact for tiny e^z.
        # (A conditional, not max(): the CUDA target compiles this same function.)
        return (z if z > 0.0 else 0.0) + math.log1p(math.exp(-abs(z)))
    return z


@njit(**JIT_OPTIONS)
def derivative_from_output(code, y):
    """f'(z) written from the output y = f(z) of activation ``code`` (see module table)."""
    if code == TANH:
        return 1.0 - y * y
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == RELU:
        return 1.0 if y > 0.0 else 0.0  # ReLU'(0) = 0
    if code == LEAKY_RELU:
        return 1.0 if y > 0.0 else LEAKY_SLOPE
    if code == ELU:
        return 1.0 if y > 0.0 else y + ELU_ALPHA
    if code == SELU:
        return SELU_SCALE if y > 0.0 else y + SELU_SCALE * SELU_ALPHA
    if code == SOFTPLUS:
        return -math.expm1(-y)  # 1 - e^-y without cancellation for small y
    return 1.0


# Eigen's [13/6] minimax rational tanh for float32 (generic_fast_tanh_float), clamped where
# float32 tanh rounds to +-1.  Worst error over every float32: < 5 ulp (tests/test_activations).
_T_CLAMP = np.float32(7.90531110763549805)
_T_SMALL = np.float32(0.0004)
# float32 1 and 0: exact in both precisions, so float32 loops are not promoted to float64.
_T_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_T_A = [np.float32(c) for c in (-2.76076847742355e-16, 2.00018790482477e-13,
                                -8.60467152213735e-11, 5.12229709037114e-08,
                                1.48572235717979e-05, 6.37261928875436e-04,
                                4.89352455891786e-03)]
_T_B = [np.float32(c) for c in (1.19825839466702e-06, 1.18534705686654e-04,
                                2.26843463243900e-03, 4.89352518554385e-03)]
_A13, _A11, _A9, _A7, _A5, _A3, _A1 = _T_A
_B6, _B4, _B2, _B0 = _T_B


@njit(**JIT_OPTIONS)
def tanh_float32(z):
    """tanh of a float32 by a branch-free rational form that vectorises (libm's is scalar).

    Exact for |z| < 4e-4 (returns z) and beyond the clamp (returns +-1, so the derivative
    1 - y^2 is exactly 0 there); NaN propagates.
    """
    x = min(max(z, -_T_CLAMP), _T_CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    r = x if abs(x) < _T_SMALL else x * p / q
    return (_T_ONE if z > 0 else -_T_ONE) if abs(z) >= _T_CLAMP else r


@intrinsic
def _int32_bits_as_float32(typingctx, i):
    """Reinterpret an int32's bits as a float32 (builds 2^n for the vectorised exp)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


# Cephes expf: e^x = 2^n e^r, n = round(x log2 e), |r| <= ln2 / 2, degree-7 polynomial.
_E_LOG2E = np.float32(1.44269504088896341)
_E_LN2_HI = np.float32(0.693359375)
_E_LN2_LO = np.float32(-2.12194440e-4)
_E_P = [np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)]
_E_P0, _E_P1, _E_P2, _E_P3, _E_P4, _E_P5 = _E_P
_E_HALF = np.float32(0.5)
_E_XMAX = np.float32(88.0)  # 2^127 * 1.4 stays below float32's max
_E_XMIN = np.float32(-87.0)  # 2^-126, the smallest normal scale
_E_ROUND = np.float32(12582912.0)  # 1.5 * 2^23: (v + R) - R rounds v to an integer
_E_BIAS = np.int32(127)
_E_SHIFT = np.int32(23)


# No "reassoc" here: it would fold (v + R) - R back into v.
@njit(cache=True, fastmath=FASTMATH - {"reassoc"}, error_model="numpy")
def exp_float32(x):
    """e^x for float32 in a vectorisable form (libm's expf is a scalar call).

    Inputs are clamped to [-87, 88]: results below 2^-126 (subnormal) read as ~1.6e-38
    and above ~1.6e38 stop growing; NaN propagates.  Callers here only feed it where
    those ends do not matter (sigmoid).
    """
    x = min(max(x, _E_XMIN), _E_XMAX)
    n = (x * _E_LOG2E + _E_ROUND) - _E_ROUND
    r = x - n * _E_LN2_HI - n * _E_LN2_LO
    p = ((((_E_P0 * r + _E_P1) * r + _E_P2) * r + _E_P3) * r + _E_P4) * r + _E_P5
    p = p * (r * r) + r + _T_ONE
    return p * _int32_bits_as_float32((np.int32(n) + _E_BIAS) << _E_SHIFT)


@njit(**JIT_OPTIONS)
def sigmoid_float32(z):
    """1 / (1 + e^-z) for float32, vectorisable; < 3 ulp wherever the result is a normal
    float32 (tests/test_activations.py), outputs below 2^-126 read as tiny, not exact."""
    return _T_ONE / (_T_ONE + exp_float32(-z))


@intrinsic
def _int64_bits_as_float64(typingctx, i):
    """Reinterpret an int64's bits as a float64 (builds 2^n for the vectorised exp)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


# Cephes exp (double): e^x = 2^n e^r, n = round(x log2 e), |r| <= ln2 / 2, e^r from a
# [2/3] Pade form.  2^n is built from its bits in two halves so that results run into
# gradual underflow (x < -708) and overflow (x > 709.78) as libm's do.
_D_LOG2E = 1.4426950408889634
_D_C1 = 6.93145751953125e-1
_D_C2 = 1.42860682030941723212e-6
_D_P0, _D_P1, _D_P2 = (1.26177193074810590878e-4, 3.02994407707441961300e-2,
                      9.99999999999999999910e-1)
_D_Q0, _D_Q1, _D_Q2, _D_Q3 = (3.00198505138664455042e-6, 2.52448340349684104192e-3,
                              2.27265548208155028766e-1, 2.00000000000000000009e0)
_D_XMIN, _D_XMAX = -746.0, 710.0  # beyond them e^x is 0 or inf either way
_D_ROUND = 6755399441055744.0  # 1.5 * 2^52: (v + R) - R rounds v to an integer


# No "reassoc" here: it would fold (v + R) - R back into v.
@njit(cache=True, fastmath=FASTMATH - {"reassoc"}, error_model="numpy")
def exp_float64(x):
    """e^x for float64 in a vectorisable form (libm's exp is a scalar call); <= 2 ulp over
    the normal range (tests/test_activations.py), 0 and inf at the ends, NaN propagates."""
    v = min(max(x, _D_XMIN), _D_XMAX)
    n = (v * _D_LOG2E + _D_ROUND) - _D_ROUND
    r = v - n * _D_C1 - n * _D_C2
    rr = r * r
    p = r * ((_D_P0 * rr + _D_P1) * rr + _D_P2)
    q = ((_D_Q0 * rr + _D_Q1) * rr + _D_Q2) * rr + _D_Q3
    e = 1.0 + 2.0 * (p / (q - p))
    k = np.int64(n)
    half = k >> 1
    scaled = (e * _int64_bits_as_float64((half + 1023) << 52)) * \
        _int64_bits_as_float64((k - half + 1023) << 52)
    return x if x != x else scaled


# Cephes tanh (double): a [2/3] rational form for |x| <= 0.625, 1 - 2 / (e^{2|x|} + 1)
# beyond; both are computed and one is selected, so the loop stays branch-free.
_H_P0, _H_P1, _H_P2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, \
    -1.61468768441708447952e3
_H_Q0, _H_Q1, _H_Q2 = 1.12811678491632931402e2, 2.23548839060100448583e3, \
    4.84406305325125486048e3


@njit(**JIT_OPTIONS)
def tanh_float64(z):
    """tanh of a float64, vectorisable; <= 2 ulp (tests), exactly +-1 for |z| > 19.1, NaN
    propagates, tiny z returned as z."""
    a = abs(z)
    s = z * z
    p = (_H_P0 * s + _H_P1) * s + _H_P2
    q = ((s + _H_Q0) * s + _H_Q1) * s + _H_Q2
    small = z + z * s * p / q
    big = 1.0 - 2.0 / (exp_float64(2.0 * a) + 1.0)
    big = big if z >= 0 else -big
    return small if a <= 0.625 else (big if a == a else z)


@njit(**JIT_OPTIONS)
def sigmoid_float64(z):
    """Stable sigmoid of a float64, vectorisable: e = e^-|z| once, then 1 / (1 + e) or
    e / (1 + e) by sign, so neither tail overflows or loses its digits; <= 2 ulp (tests)."""
    e = exp_float64(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


def fast_tanh(z):
    """tanh chosen by type at compile time: ``tanh_float32`` or ``tanh_float64``, libm for
    anything else."""
    return math.tanh(z)


def fast_sigmoid(z):
    """sigmoid chosen by type at compile time: ``sigmoid_float32`` or ``sigmoid_float64``,
    the stable libm form for anything else."""
    return 1.0 / (1.0 + math.exp(-z))


def _by_float_width(z, form32, form64, code):
    """Overload body: ``form32`` / ``form64`` for a float32 / float64 ``z``, the libm form
    of activation ``code`` for anything else.  Chosen at compile time: a runtime flag
    would leave both forms in the loop and block vectorisation."""
    bits = z.bitwidth if isinstance(z, types.Float) else None
    if bits == 32:
        return lambda z: form32(z)
    if bits == 64:
        return lambda z: form64(z)
    return lambda z: activate(code, z)


@overload(fast_tanh, jit_options=JIT_OPTIONS)
def _fast_tanh_impl(z):
    return _by_float_width(z, tanh_float32, tanh_float64, TANH)


@overload(fast_sigmoid, jit_options=JIT_OPTIONS)
def _fast_sigmoid_impl(z):
    return _by_float_width(z, sigmoid_float32, sigmoid_float64, SIGMOID)


@njit(**JIT_OPTIONS)
def bias_activate(code, y, bias):
    """y[b, j] = f(y[b, j] + bias[j]) in place over a (B, W) array.

    Each activation gets its own loop so the hot ones vectorise; tanh and sigmoid use the
    vectorisable forms of their dtype (``fast_tanh``, ``fast_sigmoid``).
    In place through one array on purpose: with separate input and output arrays that
    happen to be the same memory, LLVM's run-time alias check fails and the loop runs
    scalar, 3-4x slower (docs/performance.md, entry 6).
    """
    B, W = y.shape
    if code == TANH:
        for b in range(B):
            for j in range(W):
                y[b, j] = fast_tanh(y[b, j] + bias[j])
    elif code == SIGMOID:
        for b in range(B):
            for j in range(W):
                y[b, j] = fast_sigmoid(y[b, j] + bias[j])
    elif code == RELU:
        for b in range(B):
            for j in range(W):
                v = y[b, j] + bias[j]
                y[b, j] = v if v > 0 else _ZERO * v
    else:
        for b in range(B):
            for j in range(W):
                y[b, j] = activate(code, y[b, j] + bias[j])


@njit(**JIT_OPTIONS)
def backprop_activation(code, dy, y, dz):
    """dz = dy * f'(z) over (B, W) arrays, f' written from the saved output y; dz may be dy."""
    B, W = y.shape
    if code == TANH:
        for b in range(B):
            for j in range(W):
                dz[b, j] = dy[b, j] * (_T_ONE - y[b, j] * y[b, j])
    elif code == SIGMOID:
        for b in range(B):
            for j in range(W):
                dz[b, j] = dy[b, j] * (y[b, j] * (_T_ONE - y[b, j]))
    elif code == RELU:
        for b in range(B):
            for j in range(W):
                dz[b, j] = dy[b, j] if y[b, j] > 0 else _ZERO * dy[b, j]
    else:
        for b in range(B):
            for j in range(W):
                dz[b, j] = dy[b, j] * derivative_from_output(code, y[b, j])


@njit(**JIT_OPTIONS)
def activate_array(code, z, y):
    """Elementwise y = f(z) over arrays of any matching shape (y may be z)."""
    zf = z.ravel()
    yf = y.ravel()
    for i in range(zf.size):
        yf[i] = activate(code, zf[i])


@njit(**JIT_OPTIONS)
def derivative_array(code, y, out):
    """Elementwise out = f'(z) from outputs y = f(z) (out may be y)."""
    yf = y.ravel()
    of = out.ravel()
    for i in range(yf.size):
        of[i] = derivative_from_output(code, yf[i])


def gamma(name: str) -> float:
    """sup |f'| of activation ``name``."""
    activation_code(name)
    return GAMMA[name]


def activation_numpy(name: str, z: np.ndarray) -> np.ndarray:
    """Vectorised f(z) through the kernel (for plots and the theory module)."""
    z = np.ascontiguousarray(z)
    y = np.empty_like(z)
    activate_array(activation_code(name), z, y)
    return y
