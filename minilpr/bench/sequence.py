"""``minilpr bench sequence``: the recogniser's sequence half — the 2×BiLSTM (and CTC).

`bench_lstm` times forward + backward of the patent's ``LSTM(1024, 512, num_layers=2,
bidirectional=True)`` on T = 27 columns, batch 8, beside the time the very same matrix
products take when called from NumPy directly. The ratio says how much the rest (the Numba gate
kernels, the Python loop over time steps, allocation, concatenation) costs on top of BLAS; the
target is at most 1.5×.

`bench_ctc` times `CTCLoss` forward + backward on the recogniser's output (T = 27, K = 71,
labels of 7–8, batch 32) and its share of a training step, estimated from the BiLSTM's time; the
target is under 5 %.

`bench_decoders` times reading that output back, per plate: greedy, prefix beam search and the
plate-grammar constrained beam search (beam 10), on confident, network-like outputs.
"""

from __future__ import annotations

import numpy as np

from minilpr.bench._common import (BenchParser, best_time, blas_description, gemm_gflops,
                                    positive_int)
from minilpr.models.plate_ctc import plate_automaton
from minilpr.nn.activation import log_softmax
from minilpr.nn.ctc import CTCLoss
from minilpr.nn.decode import constrained_beam_search, greedy_decode, prefix_beam_search
from minilpr.nn.recurrent import LSTM


def lstm_gemms(T: int, N: int, D: int, H: int, num_layers: int, num_directions: int,
               dtype=np.float32):
    """A function that runs exactly the GEMMs of one LSTM forward + backward, and their FLOPs.

    Per layer and direction: the input projection ``(T*N, D_in) @ (D_in, 4H)``, T recurrent
    products ``(N, H) @ (H, 4H)``; backward, T products ``(N, 4H) @ (4H, H)`` and the three
    sequence-wide ones for dx, dW_ih and dW_hh.
    """
    rng = np.random.default_rng(0)
    jobs = []
    flops = 0
    for layer in range(num_layers):
        d_in = D if layer == 0 else num_directions * H
        for _ in range(num_directions):
            x = rng.standard_normal((T * N, d_in)).astype(dtype)
            w_ih = rng.standard_normal((4 * H, d_in)).astype(dtype)
            w_hh = rng.standard_normal((4 * H, H)).astype(dtype)
            h = rng.standard_normal((T + 1, N, H)).astype(dtype)
            gates = np.empty((T * N, 4 * H), dtype)
            hg = np.empty((N, 4 * H), dtype)
            dh = np.empty((N, H), dtype)
            jobs.append((x, w_ih, w_hh, h, gates, hg, dh))
            flops += 2 * T * N * 4 * H * (3 * d_in + 3 * H)

    def run():
        for x, w_ih, w_hh, h, gates, hg, dh in jobs:
            np.matmul(x, w_ih.T, out=gates)
            for t in range(T):
                np.matmul(h[t], w_hh.T, out=hg)
            for t in range(T):
                np.matmul(gates[t * N:(t + 1) * N], w_hh, out=dh)
            gates @ w_ih
            gates.T @ x
            gates.T @ h[:T].reshape(T * N, H)

    return run, flops


def bench_lstm(T: int, N: int, D: int, H: int, num_layers: int, repeat: int) -> dict:
    """Milliseconds of LSTM forward + backward and of its GEMMs alone; prints a small table."""
    lstm = LSTM(D, H, num_layers=num_layers, bidirectional=True, rng=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    dout = rng.standard_normal((T, N, 2 * H)).astype(np.float32)

    def step():
        lstm.forward(x)
        lstm.backward(dout)

    gemm_run, flops = lstm_gemms(T, N, D, H, num_layers, 2)
    step()
    gemm_run()
    # Alternate the three timings, keeping each one's best: on a shared machine a burst of load
    # then hits all of them alike instead of spoiling only one side of the ratio.
    forward_s = total_s = gemm_s = float("inf")
    for _ in range(repeat):
        forward_s = min(forward_s, best_time(lambda: lstm.forward(x), repeat=1, warmup=0))
        total_s = min(total_s, best_time(step, repeat=1, warmup=0))
        gemm_s = min(gemm_s, best_time(gemm_run, repeat=1, warmup=0))
    print(f"LSTM({D}, {H}, num_layers={num_layers}, bidirectional=True), T={T}, batch {N}, "
          f"float32")
    print(f"  forward            {forward_s * 1e3:8.2f} ms")
    print(f"  forward + backward {total_s * 1e3:8.2f} ms   ({flops / total_s / 1e9:6.1f} GFLOP/s)")
    print(f"  its GEMMs alone    {gemm_s * 1e3:8.2f} ms   ({flops / gemm_s / 1e9:6.1f} GFLOP/s, "
          f"{flops / 1e9:.2f} GFLOP)")
    print(f"  ratio              {total_s / gemm_s:8.2f}×  (target ≤ 1.5×)")
    return {"forward_ms": forward_s * 1e3, "total_ms": total_s * 1e3, "gemm_ms": gemm_s * 1e3,
            "gflop": flops / 1e9}


def bench_ctc(T: int, N: int, K: int, repeat: int, step_ms: float | None = None) -> dict:
    """Milliseconds of `CTCLoss` forward + backward on the recogniser's output, float32.

    Labels of 7 or 8 characters (the plate lengths) with every frame used. ``step_ms``, an
    estimate of one recogniser training step at the same batch, turns the time into a share.
    """
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((T, N, K)).astype(np.float32)
    targets = rng.integers(1, K, (N, 8))
    input_lengths = np.full(N, T)
    target_lengths = rng.integers(7, 9, N)
    loss = CTCLoss()

    def step():
        loss.forward(logits, targets, input_lengths, target_lengths)
        loss.backward()

    forward_s = best_time(lambda: loss.forward(logits, targets, input_lengths, target_lengths),
                          repeat=repeat)
    total_s = best_time(step, repeat=repeat)
    print(f"CTCLoss (log-softmax + CTC), T={T}, batch {N}, K={K}, labels of 7-8, float32")
    print(f"  forward            {forward_s * 1e3:8.2f} ms")
    print(f"  forward + backward {total_s * 1e3:8.2f} ms")
    if step_ms is not None:
        share = 100 * total_s * 1e3 / step_ms
        print(f"  share of a step    {share:8.2f} %  (of ~{step_ms:.0f} ms, the 2×BiLSTM alone "
              "scaled to this batch; target < 5 %)")
    return {"forward_ms": forward_s * 1e3, "total_ms": total_s * 1e3}


def bench_decoders(T: int, N: int, K: int, beam_width: int, repeat: int) -> dict:
    """Milliseconds per plate of the three CTC decoders on a (T, N, K) batch of log-probabilities.

    Each frame puts most of its mass on one class (as a trained network does), so the beam holds
    a few strong prefixes and many weak ones, as in practice.
    """
    rng = np.random.default_rng(3)
    logits = 2 * rng.standard_normal((T, N, K)).astype(np.float32)
    logits[np.arange(T)[:, None], np.arange(N)[None, :], rng.integers(0, K, (T, N))] += 6
    log_probs = log_softmax(logits)  # (T, N, K)
    grammar = plate_automaton()
    decoders = {
        "greedy": lambda: greedy_decode(log_probs),
        f"prefix beam ({beam_width})": lambda: prefix_beam_search(log_probs, beam_width),
        f"constrained beam ({beam_width})":
            lambda: constrained_beam_search(log_probs, grammar, beam_width),
    }
    print(f"CTC decoders, (T, N, K) = ({T}, {N}, {K}), all hypotheses with confidences")
    result = {}
    for name, run in decoders.items():
        seconds = best_time(run, repeat=repeat)
        result[name] = seconds * 1e3 / N
        print(f"  {name:22s} {seconds * 1e3:8.2f} ms per batch  {result[name]:6.2f} ms per plate")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(
        prog="minilpr bench sequence",
        description="Time the recogniser's sequence layers beside their matrix products.")
    for option, default, meaning in (("--steps", 27, "T, feature columns"), ("--batch", 8, "N"),
                                     ("--input", 1024, "D"), ("--hidden", 512, "H per direction"),
                                     ("--layers", 2, "stacked BiLSTM layers"),
                                     ("--ctc-batch", 32, "N for CTC"),
                                     ("--repeat", 10, "timings, best kept")):
        parser.add_argument(option, type=positive_int, default=default,
                            help=f"{meaning} (default {default})")
    parser.add_argument("--classes", type=int, default=71, help="K for CTC (default 71)")
    args = parser.parse_args(argv)
    if args.classes < 2:
        parser.error(f"--classes must be at least 2 (the blank and one character), "
                     f"got {args.classes}")
    print(f"BLAS: {blas_description()}")
    print(f"GEMM rate (1024×1024×1024, float32): {gemm_gflops(1024):.1f} GFLOP/s")
    lstm = bench_lstm(args.steps, args.batch, args.input, args.hidden, args.layers, args.repeat)
    # The BiLSTM's forward + backward grows about linearly with the batch; the CNN and FC layers
    # come on top, so this underestimates the recogniser's step and overstates CTC's share.
    step_ms = lstm["total_ms"] * args.ctc_batch / args.batch
    bench_ctc(args.steps, args.ctc_batch, args.classes, args.repeat, step_ms)
    bench_decoders(args.steps, args.ctc_batch, args.classes, 10, max(1, args.repeat // 3))
    return 0
