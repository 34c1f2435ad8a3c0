"""``minilpr bench layers``: every convolution of the patent's CNN, timed against plain GEMM.

The shapes are traced through Tables 1-3 of the patent for a 1 × 32 × 220 plate crop:

    conv1 -> Residual-1 -> Residual-2 -> conv2 -> conv3 -> max pool      (Table 1)
    Residual block: max pool 2/2 -> conv1 -> conv2 -> conv3 (stride (2, 1)) -> conv4,
                    plus the shortcut conv5 (stride (4, 2)) from the block input  (Tables 2-3)

For each convolution the benchmark prints the forward and backward times and their GFLOP/s.
A forward costs ``2·N·F·H_out·W_out·C·KH·KW`` flops; the backward twice that (one product for
the weight gradient, one for the input gradient). The same-run rate of a plain float32 GEMM is
the ceiling an im2col convolution can approach.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from minilpr.bench._common import (BenchParser, best_time, blas_description, gemm_gflops,
                                    positive_int)
from minilpr.nn.conv import Conv2d, conv2d_backward, conv2d_forward, conv_output_size
from minilpr.nn.kernels import conv as conv_kernels
from minilpr.nn.kernels import pool as pool_kernels
from minilpr.nn.pool import MaxPool2d, maxpool2d_backward, maxpool2d_forward


@dataclass(frozen=True)
class ConvSpec:
    """One convolution of the network, with the input size it sees."""

    name: str
    C: int
    F: int
    kernel: int
    stride: tuple[int, int]
    padding: int
    H: int
    W: int

    @property
    def out_size(self) -> tuple[int, int]:
        return (conv_output_size(self.H, self.kernel, self.stride[0], self.padding),
                conv_output_size(self.W, self.kernel, self.stride[1], self.padding))

    def flops(self, N: int) -> float:
        """Multiply-adds ×2 of the forward product."""
        H_out, W_out = self.out_size
        return 2.0 * N * self.F * H_out * W_out * self.C * self.kernel * self.kernel


def patent_convolutions(H: int = 32, W: int = 220) -> tuple[list[ConvSpec], list[tuple]]:
    """Trace Tables 1-3: the convolutions and the max pools, each with its input size.

    Returns
    -------
    convs : list of ConvSpec
    pools : list of (name, C, H, W), the inputs of the 2×2 stride-2 max pools
    """
    convs: list[ConvSpec] = []
    pools: list[tuple] = []

    def conv(name, C, F, k, s, p, H, W):
        spec = ConvSpec(name, C, F, k, s, p, H, W)
        convs.append(spec)
        return spec.out_size

    H, W = conv("conv1", 1, 64, 3, (1, 1), 1, H, W)
    C = 64
    for block, (f1, f2, f3, f4) in (("res1", (128, 64, 128, 256)),
                                    ("res2", (512, 256, 512, 1024))):
        pools.append((f"{block}.pool", C, H, W))
        h, w = H // 2, W // 2
        h, w = conv(f"{block}.conv1", C, f1, 3, (1, 1), 1, h, w)
        h, w = conv(f"{block}.conv2", f1, f2, 1, (1, 1), 0, h, w)
        h, w = conv(f"{block}.conv3", f2, f3, 3, (2, 1), 1, h, w)
        h, w = conv(f"{block}.conv4", f3, f4, 3, (1, 1), 1, h, w)
        shortcut = conv(f"{block}.conv5", C, f4, 3, (4, 2), 1, H, W)
        if shortcut != (h, w):
            raise AssertionError(f"{block}: branches disagree, {(h, w)} vs {shortcut}")
        C, H, W = f4, h, w
    H, W = conv("conv2", C, 512, 1, (1, 1), 0, H, W)
    H, W = conv("conv3", 512, 1024, 3, (1, 1), 1, H, W)
    pools.append(("pool", 1024, H, W))
    return convs, pools


def first_call_seconds() -> tuple[float, str]:
    """Time the first forward and backward of tiny Conv2d and MaxPool2d layers in this process.

    That is the cost of loading (or, with a cold cache, compiling) the float32 Numba kernels.
    """
    start = time.perf_counter()
    x = np.zeros((1, 1, 4, 4), np.float32)
    for layer in (Conv2d(1, 1, 3, padding=1), MaxPool2d(2), MaxPool2d(3, stride=1, padding=1)):
        layer.backward(layer(x))
    seconds = time.perf_counter() - start
    kernels = [conv_kernels.im2col_kernel, conv_kernels.col2im_kernel,
               pool_kernels.maxpool2d_forward_kernel, pool_kernels.maxpool2x2_forward_kernel,
               pool_kernels.maxpool2d_backward_kernel]
    hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
    misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
    return seconds, f"{hits} kernels loaded from the cache, {misses} compiled"


def timed(fn):
    """``(seconds, fn())`` of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="minilpr bench layers",
                         description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=positive_int, default=8)
    parser.add_argument("--repeat", type=positive_int, default=5,
                        help="rounds over all layers; each layer keeps its best time")
    args = parser.parse_args(argv)

    jit_seconds, jit_note = first_call_seconds()
    N, rng = args.batch, np.random.default_rng(0)
    print(f"BLAS: {blas_description()}")
    print(f"first call (load or compile the conv and pool kernels): {jit_seconds:.2f} s "
          f"({jit_note})")

    convs, pools = patent_convolutions()
    layers = []
    for spec in convs:
        x = rng.standard_normal((N, spec.C, spec.H, spec.W)).astype(np.float32)
        w = (rng.standard_normal((spec.F, spec.C, spec.kernel, spec.kernel)) * 0.05
             ).astype(np.float32)
        b = np.zeros(spec.F, np.float32)
        out, _ = conv2d_forward(x, w, b, spec.stride, spec.padding)
        layers.append((x, w, b, rng.standard_normal(out.shape).astype(np.float32), {}))

    # Rounds over all layers rather than repeats of one: a burst of load from other processes
    # then spoils one round of a layer, not all of its timings.
    fwd_best, bwd_best = [np.inf] * len(convs), [np.inf] * len(convs)
    gemm = 0.0
    for _ in range(args.repeat):
        gemm = max(gemm, gemm_gflops(1024, repeat=2))
        for k, (spec, (x, w, b, dout, workspace)) in enumerate(zip(convs, layers)):
            fwd, (_, cache) = timed(lambda: conv2d_forward(x, w, b, spec.stride, spec.padding,
                                                           workspace))
            bwd, _ = timed(lambda: conv2d_backward(dout, cache))
            fwd_best[k], bwd_best[k] = min(fwd_best[k], fwd), min(bwd_best[k], bwd)

    print(f"float32 GEMM 1024³: {gemm:.1f} GFLOP/s (best of the rounds); batch {N}, "
          f"input 1×32×220, float32\n")
    print(f"{'layer':<11} {'C→F':>10} {'k':>3} {'stride':>6} {'in H×W':>8} {'out H×W':>8}"
          f" {'fwd ms':>8} {'bwd ms':>8} {'fwd GF/s':>9} {'bwd GF/s':>9}")
    for spec, fwd, bwd in zip(convs, fwd_best, bwd_best):
        flops = spec.flops(N)
        H_out, W_out = spec.out_size
        print(f"{spec.name:<11} {f'{spec.C}→{spec.F}':>10} {spec.kernel:>3} "
              f"{f'{spec.stride[0]},{spec.stride[1]}':>6} {f'{spec.H}×{spec.W}':>8} "
              f"{f'{H_out}×{W_out}':>8} {fwd * 1e3:8.1f} {bwd * 1e3:8.1f} "
              f"{flops / fwd / 1e9:9.1f} {2 * flops / bwd / 1e9:9.1f}")
    total_flops = sum(spec.flops(N) for spec in convs)
    total_fwd, total_bwd = sum(fwd_best), sum(bwd_best)
    fwd_rate, bwd_rate = total_flops / total_fwd / 1e9, 2 * total_flops / total_bwd / 1e9
    print(f"{'total':<11} {'':>10} {'':>3} {'':>6} {'':>8} {'':>8} {total_fwd * 1e3:8.1f} "
          f"{total_bwd * 1e3:8.1f} {fwd_rate:9.1f} {bwd_rate:9.1f}")
    print(f"\nforward  {fwd_rate:.1f} GFLOP/s = {100 * fwd_rate / gemm:.0f} % of GEMM")
    print(f"backward {bwd_rate:.1f} GFLOP/s = {100 * bwd_rate / gemm:.0f} % of GEMM")

    print(f"\n{'max pool 2/2':<14} {'input':>16} {'fwd ms':>8} {'bwd ms':>8}")
    for name, C, H, W in pools:
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        fwd = best_time(lambda: maxpool2d_forward(x, 2), repeat=args.repeat)
        out, cache = maxpool2d_forward(x, 2)
        bwd = best_time(lambda: maxpool2d_backward(out, cache), repeat=args.repeat)
        print(f"{name:<14} {f'{N}×{C}×{H}×{W}':>16} {fwd * 1e3:8.2f} {bwd * 1e3:8.2f}")
    return 0
