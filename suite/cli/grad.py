"""``vgbench grad``: one MLP forward+backward, per-layer gradient norms as a table."""

HELP = "one MLP forward and backward pass; print per-layer gradient norms"


def add_arguments(parser) -> None:
    from vgbench.cli.options import nonneg, nonneg_int, positive_int
    from vgbench.kernels.activations import ACTIVATIONS
    from vgbench.models.init import INITS

    parser.add_argument("--activation", default="tanh", choices=sorted(ACTIVATIONS))
    parser.add_argument("--init", default="xavier", choices=INITS)
    parser.add_argument("--depth", type=positive_int, default=20)
    parser.add_argument("--width", type=positive_int, default=128)
    parser.add_argument("--batch", type=positive_int, default=64)
    parser.add_argument("--in-dim", type=positive_int, default=None,
                        help="input width (default: width)")
    parser.add_argument("--out-dim", type=positive_int, default=1)
    parser.add_argument("--residual", action="store_true")
    parser.add_argument("--batchnorm", action="store_true")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--sigma-w", type=nonneg, default=1.0, help="std scale of 'normal' init")
    parser.add_argument("--sigma-b", type=nonneg, default=0.0, help="bias std of 'normal' init")
    parser.add_argument("--gain", type=nonneg, default=1.0, help="gain of xavier/he/orthogonal")
    parser.add_argument("--seed", type=nonneg_int, default=0)


def run(args) -> int:
    import numpy as np

    from vgbench.models import MLP
    from vgbench.models.footprint import check_fits, mlp_bytes

    in_dim = args.width if args.in_dim is None else args.in_dim
    check_fits(f"--width {args.width} --depth {args.depth} --batch {args.batch} "
               f"({args.dtype})", mlp_bytes(in_dim, args.width, args.depth, args.out_dim,
                                            args.batch, args.dtype, args.residual,
                                            args.batchnorm)["total"])
    model = MLP(in_dim, args.width, args.depth, args.out_dim, activation=args.activation,
                init=args.init, residual=args.residual, batchnorm=args.batchnorm,
                dtype=args.dtype, seed=args.seed, sigma_w=args.sigma_w,
                sigma_b=args.sigma_b, gain=args.gain)
    rng = np.random.default_rng(args.seed + 1)
    x = rng.standard_normal((args.batch, in_dim)).astype(args.dtype)
    y = rng.standard_normal((args.batch, args.out_dim)).astype(args.dtype)
    r = model.loss_and_grads(x, y)
    print(model)
    print(f"loss = {r.loss:.6g}")
    # One row per hidden output h_l (l = 1..L, h_0 = x) and the weight W_{l-1} that makes
    # it (h_l = f(h_{l-1} W_{l-1} + b_{l-1})): each index named with its own convention.
    print(f"{'h_l':>5}  {'||dL/dh_l||':>12}  {'ratio to top':>12}  {'W':>5}  "
          f"{'||dL/dW||_F':>12}")
    top = r.delta_norms[-1]
    for l in range(model.depth):
        ratio = r.delta_norms[l] / top if top > 0 else float("nan")
        print(f"{f'h_{l + 1}':>5}  {r.delta_norms[l]:12.4e}  {ratio:12.4e}  "
              f"{f'W{l}':>5}  {r.weight_grad_norms[l]:12.4e}")
    print(f"h_{model.depth} is the top hidden output (the readout W{model.depth} reads it); "
          f"ratio to top = ||dL/dh_l|| / ||dL/dh_{model.depth}||")
    return 0
