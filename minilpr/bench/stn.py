"""``minilpr bench stn``: the spatial transformer's cost beside a recogniser training step.

Times, at float32 on a batch of plate crops (default 32 × 32 × 220):

* the grid generator (`affine_grid`) and the bilinear sampler (`grid_sample`), forward and
  backward, for gray (C = 1) and colour (C = 3) input;
* the localisation net of Table 4 (FC-in 56,320), the same layers on the plate at half size
  (`HALF`, FC-in 14,080) and the `COMPACT` variant that pools after every convolution
  (FC-in 3,456), forward and backward;
* the whole STN, forward and backward.

The issue's target is "well under 10 % of a recogniser training step". The step is estimated
from below: the forward and backward flops of the CNN's convolutions (Tables 1-3, traced by
`minilpr.bench.layers.patent_convolutions`) at this machine's GEMM rate — no BiLSTM, no batch
norm, no im2col overhead — so the true share of the STN is smaller than the one printed.
"""

from __future__ import annotations


import numpy as np

from minilpr.bench._common import (BenchParser, best_time, blas_description, gemm_gflops,
                                    positive_int)


def recogniser_step_seconds(batch: int, gflops: float) -> float:
    """Lower bound of a recogniser training step: its convolutions' flops at GEMM speed.

    A backward costs two forward products (weight and input gradients), so a step is three.
    """
    from minilpr.bench.layers import patent_convolutions
    convs, _ = patent_convolutions()
    return 3 * sum(spec.flops(batch) for spec in convs) / (gflops * 1e9)


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="minilpr bench stn", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--repeat", type=positive_int, default=5,
                        help="timings per case (best kept)")
    args = parser.parse_args(argv)

    from minilpr.models.stn import COMPACT, HALF, TABLE4, SpatialTransformer
    from minilpr.nn.spatial import (affine_grid_backward, affine_grid_forward,
                                    grid_sample_backward, grid_sample_forward)

    N, H, W = args.batch, 32, 220
    rng = np.random.default_rng(0)
    gemm = gemm_gflops(1024)
    print(f"BLAS: {blas_description()}")
    print(f"float32 GEMM 1024³: {gemm:.1f} GFLOP/s; batch {N}, plate {H}×{W}, float32\n")

    theta = (np.array([[1, 0, 0], [0, 1, 0]]) + 0.05 * rng.standard_normal((N, 2, 3)))
    theta = theta.astype(np.float32)
    rows = []  # (part, shape, forward seconds, forward + backward seconds)
    grid, grid_cache = affine_grid_forward(theta, (N, 1, H, W))
    dgrid = rng.standard_normal(grid.shape).astype(np.float32)
    fwd = best_time(lambda: affine_grid_forward(theta, (N, 1, H, W)), args.repeat)
    bwd = best_time(lambda: affine_grid_backward(dgrid, grid_cache), args.repeat)
    rows.append(("affine_grid", f"{N}×2×3 → {N}×{H}×{W}×2", fwd, fwd + bwd))
    for C in (1, 3):
        x = rng.uniform(0, 1, (N, C, H, W)).astype(np.float32)
        out, cache = grid_sample_forward(x, grid)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        fwd = best_time(lambda: grid_sample_forward(x, grid), args.repeat)
        bwd = best_time(lambda: grid_sample_backward(dout, cache), args.repeat)
        rows.append((f"grid_sample C={C}", f"{N}×{C}×{H}×{W}", fwd, fwd + bwd))

    # A layer's backward needs its own forward just before, so these are timed as pairs.
    gray = rng.uniform(0, 1, (N, 1, H, W)).astype(np.float32)
    for name, config in (("Table 4", TABLE4), ("half", HALF), ("compact", COMPACT)):
        stn = SpatialTransformer(config, rng=0)
        seen = rng.uniform(0, 1, (N, 1, *config.in_size)).astype(np.float32)
        for part, module, x, dout_shape in (("loc. net", stn.localisation, seen, (N, 2, 3)),
                                            ("STN", stn, gray, gray.shape)):
            dout = rng.standard_normal(dout_shape).astype(np.float32)

            def step(module=module, x=x, dout=dout):
                module.forward(x)
                module.backward(dout)

            fwd = best_time(lambda module=module, x=x: module.forward(x), args.repeat)
            rows.append((f"{part} {name}", f"{x.shape[2]}×{x.shape[3]}, FC-in {config.fc_in}",
                         fwd, best_time(step, args.repeat)))

    print(f"{'part':<20} {'shape':>22} {'fwd ms':>8} {'fwd+bwd ms':>11}")
    for name, shape, fwd, total in rows:
        print(f"{name:<20} {shape:>22} {fwd * 1e3:8.2f} {total * 1e3:11.2f}")

    gemm = max(gemm, gemm_gflops(1024))
    step = recogniser_step_seconds(N, gemm)
    print(f"\nrecogniser step, lower bound (CNN convolutions at {gemm:.0f} GFLOP/s, "
          f"fwd + bwd): {step * 1e3:.0f} ms")
    for name, _, _, total in rows:
        if name.startswith(("STN", "grid_sample")):
            print(f"{name:<20} {total * 1e3:8.1f} ms = {100 * total / step:5.2f} % of that step")
    return 0
