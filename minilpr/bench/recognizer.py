"""``minilpr bench recognizer``: images per second of a training step and of inference.

    minilpr bench recognizer --preset tiny --batch 32 [--stn] [--json] [--repeat R] [--threads 1]

A training step is what the trainer runs: forward, CTC loss, backward, one Adam step (with the
STN, a second Adam on the localisation net). Inference is a forward in eval mode. Both run on
random plates of the preset's input size with random labels of 7–8 characters, float32.

Where PyTorch is installed, its twin of the same network (`minilpr.bench._twins`, same weights)
is timed in the same run, the same way, with the same number of threads, and the ratio
``minilpr time / torch time`` is printed (the target is ≤ 1.5). ``--profile`` adds a table of
minilpr's forward and backward time per layer.

BLAS threads are set with threadpoolctl (``--threads``, default 1: on a busy 2-core machine one
spinning OpenBLAS thread per process is fastest). Run with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset; the BLAS kernel is printed.
"""

from __future__ import annotations

import json
import time

import numpy as np

from minilpr.bench._common import BenchParser, best_time, blas_description, positive_int
from minilpr.bench._twins import torch_available


def _batch(config, N: int, rng):
    x = rng.uniform(0, 1, (N, config.in_channels, config.height, config.width_px))
    lengths = rng.integers(7, 9, N)
    targets = np.zeros((N, 8), np.int64)
    for n, L in enumerate(lengths):
        targets[n, :L] = rng.integers(1, config.num_classes, L)
    return x.astype(np.float32), targets, np.full(N, config.sequence_length), lengths


def minilpr_step(model, batch):
    """A training step and an inference call of the minilpr model."""
    from minilpr.models.stn import LOCALISATION_LR_SCALE
    from minilpr.nn import CTCLoss
    from minilpr.nn.optim import Adam

    x, targets, input_lengths, target_lengths = batch
    ctc = CTCLoss()
    optimizers = [Adam(model.recognizer_parameters(), lr=1e-3)]
    if model.stn is not None:
        optimizers.append(Adam(model.stn_parameters(), lr=1e-3 * LOCALISATION_LR_SCALE))

    def train():
        model.train()
        for opt in optimizers:
            opt.zero_grad()
        ctc.forward(model.forward(x), targets, input_lengths, target_lengths)
        model.backward(ctc.backward())
        for opt in optimizers:
            opt.step()

    def infer():
        model.eval()
        return model.forward(x)

    return train, infer


def torch_step(model, batch, threads: int):
    """The same two calls for the PyTorch twin."""
    import torch

    from minilpr.bench._twins import torch_twin_of
    from minilpr.models.stn import LOCALISATION_LR_SCALE

    torch.set_num_threads(threads)
    twin = torch_twin_of(model)
    x, targets, input_lengths, target_lengths = (torch.from_numpy(np.asarray(a)) for a in batch)
    groups = [{"params": [p for n, p in twin.named_parameters() if not n.startswith("stn.")]}]
    if twin.stn is not None:
        groups.append({"params": list(twin.stn.parameters()), "lr": 1e-3 * LOCALISATION_LR_SCALE})
    opt = torch.optim.Adam(groups, lr=1e-3)

    def train():
        twin.train()
        opt.zero_grad()
        log_probs = twin(x).log_softmax(-1)
        torch.nn.functional.ctc_loss(log_probs, targets, input_lengths, target_lengths).backward()
        opt.step()

    def infer():
        twin.eval()
        with torch.no_grad():
            return twin(x)

    return train, infer


def profile_layers(model, batch, repeat: int) -> list[tuple[str, float, float]]:
    """(layer, forward ms, backward ms) of each top-level layer of the minilpr model."""
    from minilpr.nn import CTCLoss

    x, targets, input_lengths, target_lengths = batch
    names = (["stn"] if model.stn is not None else []) + list(model.CNN) + \
        ["to_sequence", "lstm", "fc"]
    best = {n: [np.inf, np.inf] for n in names + ["ctc"]}
    model.train()
    for _ in range(repeat):
        h, times = x, {}
        for n in names:
            start = time.perf_counter()
            h = getattr(model, n).forward(h)
            if n == "lstm":
                h = h[0]
            times[n] = [time.perf_counter() - start, 0.0]
        ctc = CTCLoss()
        start = time.perf_counter()
        ctc.forward(h, targets, input_lengths, target_lengths)
        d = ctc.backward()
        times["ctc"] = [time.perf_counter() - start, 0.0]
        for n in reversed(names):
            start = time.perf_counter()
            d = getattr(model, n).backward(d)
            times[n][1] = time.perf_counter() - start
        for n, (f, b) in times.items():
            best[n] = [min(best[n][0], f), min(best[n][1], b)]
    return [(n, 1e3 * f, 1e3 * b) for n, (f, b) in best.items()]


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="minilpr bench recognizer",
                         description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", choices=["patent", "small", "tiny"])
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--stn", nargs="?", const="table4", default=None,
                        choices=["table4", "half", "compact"],
                        help="put a spatial transformer in front (default preset: table4)")
    parser.add_argument("--repeat", type=positive_int, default=5,
                        help="timings per case (best kept)")
    parser.add_argument("--threads", type=positive_int, default=1, help="BLAS (and torch) threads")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch twin")
    parser.add_argument("--profile", action="store_true", help="time minilpr layer by layer")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object as the last line")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from minilpr.models.recognizer import Recognizer, RecognizerConfig

    config = RecognizerConfig.preset(args.preset, stn=args.stn)
    model = Recognizer(config, rng=0)
    batch = _batch(config, args.batch, np.random.default_rng(1))
    N = args.batch
    result = {"preset": args.preset, "batch": N, "stn": args.stn, "threads": args.threads,
              "parameters": model.num_parameters()}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        result["blas"] = blas_description()
        train, infer = minilpr_step(model, batch)
        result["train_images_per_s"] = N / best_time(train, args.repeat)
        result["infer_images_per_s"] = N / best_time(infer, args.repeat)
        if torch_available() and not args.no_torch:
            import torch
            t_train, t_infer = torch_step(Recognizer(config, rng=0), batch, args.threads)
            result["torch_version"] = torch.__version__
            result["torch_train_images_per_s"] = N / best_time(t_train, args.repeat)
            result["torch_infer_images_per_s"] = N / best_time(t_infer, args.repeat)
            # Time ratios (minilpr / torch): above 1 means minilpr is slower.
            result["train_time_ratio"] = (result["torch_train_images_per_s"]
                                          / result["train_images_per_s"])
            result["infer_time_ratio"] = (result["torch_infer_images_per_s"]
                                          / result["infer_images_per_s"])
        rows = profile_layers(model, batch, args.repeat) if args.profile else None

    print(f"BLAS: {result['blas']}")
    print(f"recognizer {args.preset} ({result['parameters']:,} parameters), STN {args.stn}, "
          f"batch {N}, float32, {args.threads} thread(s)\n")
    print(f"{'':<10} {'train img/s':>12} {'infer img/s':>12}")
    print(f"{'minilpr':<10} {result['train_images_per_s']:12.1f} "
          f"{result['infer_images_per_s']:12.1f}")
    if "torch_train_images_per_s" in result:
        print(f"{'torch':<10} {result['torch_train_images_per_s']:12.1f} "
              f"{result['torch_infer_images_per_s']:12.1f}")
        print(f"{'time ratio':<10} {result['train_time_ratio']:11.2f}× "
              f"{result['infer_time_ratio']:11.2f}×   (minilpr / torch; target ≤ 1.5×)")
    if rows:
        total = sum(f + b for _, f, b in rows)
        print(f"\n{'layer':<12} {'fwd ms':>8} {'bwd ms':>8} {'share':>6}")
        for name, f, b in rows:
            print(f"{name:<12} {f:8.2f} {b:8.2f} {100 * (f + b) / total:5.1f}%")
        result["profile_ms"] = {name: [round(f, 3), round(b, 3)] for name, f, b in rows}
    if args.json:
        print(json.dumps(result))
    return 0
