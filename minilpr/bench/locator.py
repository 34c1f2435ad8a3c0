"""``minilpr bench locator``: the YOLO locator's inference time and training images per second.

    minilpr bench locator [--backbone small] [--size 416] [--batch 8] [--repeat 3] [--json]

* inference: an eval-mode forward of one image (``infer_ms``, the issue's target is ≤ 60 ms at
  416 × 416 on 2 cores) and of a batch of B (``infer_images_per_s``);
* training: a train-mode forward of B images and the backward from a fixed upstream gradient
  (random, drawn once) of the three raw outputs, with the gradients zeroed first — the network's
  share of a training step, without the loss and the optimiser. The YOLO loss's forward and
  backward on fixed targets (two boxes per image) is timed on its own (``yolo_loss_ms``): it is
  NumPy on the small head outputs and has no counterpart in the twin.

Random images in [0, 1], float32, weights drawn from seed 0. Where PyTorch is installed, its twin
of the same network (`minilpr.bench._twins.torch_locator`, minilpr's weights loaded by parameter
name) first computes the same outputs on the same images (the largest absolute difference is
printed), then is timed in the same run, the same way, with the same number of threads; the
ratios ``minilpr time / torch time`` are printed. ``--profile`` adds minilpr's forward and
backward time per layer, grouped by kind and by block, with the im2col / col2im copies of the
convolutions counted apart.

BLAS threads are set with threadpoolctl (``--threads``, default 1, as the other benchmarks).
Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; the BLAS kernel is printed.
"""

from __future__ import annotations

import contextlib
import json
import time
import types

import numpy as np

from minilpr.bench._common import BenchParser, best_time, blas_description, positive_int
from minilpr.bench._twins import torch_available

# Plate-shaped anchors (w, h) at 416 × 416, sorted by area: fixed targets for the loss timing.
_ANCHORS_416 = np.array([[20, 7], [28, 9], [36, 12], [48, 15], [64, 20], [84, 27], [110, 35],
                         [150, 48], [200, 64]], np.float64)


def _inputs(size: int, batch: int, rng):
    """One image and a batch of B, (1, 3, S, S) and (B, 3, S, S) float32 in [0, 1]."""
    x1 = rng.uniform(0, 1, (1, 3, size, size)).astype(np.float32)
    xb = rng.uniform(0, 1, (batch, 3, size, size)).astype(np.float32)
    return x1, xb


def _upstream(model, xb, rng):
    """A fixed gradient for each of the three raw outputs of a batch."""
    from minilpr.models.locator import STRIDES
    out = model.num_anchors * (5 + model.num_classes)
    N, _, H, W = xb.shape
    return tuple(rng.standard_normal((N, out, H // s, W // s)).astype(np.float32)
                 for s in STRIDES)


def minilpr_calls(model, x1, xb, douts):
    """Inference of one image, of a batch, and a training forward + backward, for minilpr."""
    def infer_one():
        model.eval()
        return model.forward(x1)

    def infer_batch():
        model.eval()
        return model.forward(xb)

    def train():
        model.train()
        model.zero_grad()
        model.forward(xb)
        return model.backward(douts)

    return infer_one, infer_batch, train


def torch_calls(model, x1, xb, douts, threads: int):
    """The same three calls for the PyTorch twin of ``model`` (its weights as they are now)."""
    import torch

    from minilpr.bench._twins import torch_locator_twin_of

    torch.set_num_threads(threads)
    twin = torch_locator_twin_of(model)
    x1_t, xb_t = torch.from_numpy(x1), torch.from_numpy(xb)
    douts_t = [torch.from_numpy(d) for d in douts]

    def infer_one():
        twin.eval()
        with torch.no_grad():
            return twin(x1_t)

    def infer_batch():
        twin.eval()
        with torch.no_grad():
            return twin(xb_t)

    def train():
        twin.train()
        twin.zero_grad()
        torch.autograd.backward(twin(xb_t), douts_t)

    return twin, infer_one, infer_batch, train


def max_abs_difference(model, twin, x1, xb) -> tuple[float, float]:
    """Largest |minilpr − torch| over the three outputs, and the largest |output|.

    Compared twice: a train-mode forward of the batch (batch statistics; it moves both
    models' running statistics the same way), then an eval-mode forward of one image.
    """
    import torch

    diff, scale = 0.0, 0.0
    for training, x in ((True, xb), (False, x1)):
        model.train(training)
        twin.train(training)
        ours = model.forward(x)
        with torch.no_grad():
            theirs = twin(torch.from_numpy(x))
        for a, b in zip(ours, theirs):
            diff = max(diff, float(np.max(np.abs(a - b.numpy()))))
            scale = max(scale, float(np.max(np.abs(a))))
    return diff, scale


def yolo_loss_call(model, xb, rng):
    """The YOLO loss forward + backward on the raw outputs of ``xb``, fixed targets."""
    from minilpr.detect.anchors import split_per_scale
    from minilpr.detect.head import assign_targets, yolo_loss_backward, yolo_loss_forward
    from minilpr.models.locator import STRIDES

    N, _, H, W = xb.shape
    model.eval()
    raws = [r.astype(np.float64) for r in model.forward(xb)]
    anchors = split_per_scale(_ANCHORS_416 * (H / 416), len(STRIDES))
    boxes, classes = [], []
    for _ in range(N):
        wh = _ANCHORS_416[rng.integers(0, 9, 2)] * (H / 416)
        centre = rng.uniform(0.25, 0.75, (2, 2)) * (W, H)
        boxes.append(np.concatenate([centre - wh / 2, centre + wh / 2], axis=1))
        classes.append(rng.integers(0, model.num_classes, 2))
    grids = [r.shape[2:] for r in raws]

    def loss():
        targets = assign_targets(boxes, classes, anchors, STRIDES, grids, (H, W),
                                 model.num_classes)
        _, cache = yolo_loss_forward(raws, targets, anchors, STRIDES)
        return yolo_loss_backward(1.0, cache)

    return loss


def _kind(module) -> str:
    """The profile's group of a leaf layer: 'conv 3×3 s2', 'batch norm', ..."""
    from minilpr.nn.conv import Conv2d
    if isinstance(module, Conv2d):
        (kh, kw), stride = module.kernel_size, module.stride[0]
        return f"conv {kh}×{kw} s{stride}"
    return {"BatchNorm2d": "batch norm", "LeakyReLU": "leaky ReLU", "Upsample": "upsample",
            "Concat": "concat", "Add": "residual add"}.get(type(module).__name__,
                                                          type(module).__name__)


def _block(name: str) -> str:
    """The layer's block: ``backbone.stages.2.1.body.0.0`` -> ``backbone.stages.2``."""
    parts = name.split(".")
    return ".".join(parts[:3] if parts[:2] == ["backbone", "stages"] else parts[:2])


@contextlib.contextmanager
def _timed(target, attribute: str, totals: dict, key):
    """Replace ``target.attribute`` by a wrapper adding its wall time to ``totals[key]``."""
    original = getattr(target, attribute)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - start

    setattr(target, attribute, wrapper)
    try:
        yield
    finally:
        if isinstance(target, types.ModuleType):
            setattr(target, attribute, original)
        else:
            delattr(target, attribute)


def profile_layers(model, xb, douts, repeat: int) -> dict:
    """minilpr's train-mode forward and backward time per leaf layer, best of ``repeat``.

    Returns
    -------
    dict
        ``layers``: {dotted name: (kind, fwd ms, bwd ms)}; ``copies``: the convolutions'
        im2col (forward) and col2im (backward) ms in total; ``total``: the whole forward +
        backward ms of the same step, untimed layers' Python included.
    """
    import minilpr.nn.conv as conv_module

    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    best: dict = {}
    with contextlib.ExitStack() as stack:
        times: dict = {}
        for name, module in leaves:
            stack.enter_context(_timed(module, "forward", times, (name, 0)))
            stack.enter_context(_timed(module, "backward", times, (name, 1)))
        stack.enter_context(_timed(conv_module, "im2col_kernel", times, ("im2col", 0)))
        stack.enter_context(_timed(conv_module, "col2im_kernel", times, ("col2im", 1)))
        model.train()
        for _ in range(repeat):
            times.clear()
            start = time.perf_counter()
            model.zero_grad()
            model.forward(xb)
            model.backward(douts)
            times[("total", 0)] = time.perf_counter() - start
            for key, seconds in times.items():
                best[key] = min(best.get(key, np.inf), seconds)
    ms = {key: 1e3 * s for key, s in best.items()}
    return {"layers": {name: (_kind(m), ms[(name, 0)], ms[(name, 1)]) for name, m in leaves},
            "copies": (ms[("im2col", 0)], ms[("col2im", 1)]), "total": ms[("total", 0)]}


def _grouped(layers: dict, key) -> dict:
    groups: dict = {}
    for name, (kind, f, b) in layers.items():
        g = groups.setdefault(key(name, kind), [0.0, 0.0])
        g[0] += f
        g[1] += b
    return groups


def _print_profile(profile: dict) -> None:
    layers = profile["layers"]
    total = sum(f + b for _, f, b in layers.values())
    print(f"\nminilpr, train mode, forward / backward ms (sum of layers {total:.1f} ms, whole "
          f"step {profile['total']:.1f} ms)")
    for title, key in (("kind", lambda n, k: k), ("block", lambda n, k: _block(n))):
        groups = sorted(_grouped(layers, key).items(), key=lambda kv: -sum(kv[1]))
        print(f"\n{title:<22} {'fwd ms':>8} {'bwd ms':>8} {'share':>6}")
        for name, (f, b) in groups:
            print(f"{name:<22} {f:8.2f} {b:8.2f} {100 * (f + b) / total:5.1f}%")
    im2col, col2im = profile["copies"]
    print(f"\nof the convolutions: im2col {im2col:.2f} ms forward, col2im {col2im:.2f} ms "
          f"backward")
    print(f"\n{'slowest layers':<36} {'kind':<12} {'fwd ms':>8} {'bwd ms':>8}")
    for name, (kind, f, b) in sorted(layers.items(), key=lambda kv: -sum(kv[1][1:]))[:12]:
        print(f"{name:<36} {kind:<12} {f:8.2f} {b:8.2f}")


def _blas_info() -> dict:
    from threadpoolctl import threadpool_info
    entries = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"internal_api": entries[0].get("internal_api"),
            "architecture": entries[0].get("architecture")} if entries else {}


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="minilpr bench locator", description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="small", choices=["small", "tiny", "darknet53"],
                        help="small (the shipped one's, default), tiny (tests) or darknet53")
    parser.add_argument("--size", type=int, default=416, help="input side, a multiple of 32")
    parser.add_argument("--batch", type=positive_int, default=8, help="B, for images/s")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="timings per case (best kept)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="BLAS (and torch) threads")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch twin")
    parser.add_argument("--profile", action="store_true", help="time minilpr layer by layer")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    if args.size < 32 or args.size % 32:
        parser.error(f"--size must be a positive multiple of 32, got {args.size}")

    from threadpoolctl import threadpool_limits

    from minilpr.models.locator_weights import build_locator

    model = build_locator(args.backbone, seed=0)
    rng = np.random.default_rng(1)
    x1, xb = _inputs(args.size, args.batch, rng)
    douts = _upstream(model, xb, rng)
    B = args.batch
    result = {"backbone": args.backbone, "size": args.size, "batch": B, "threads": args.threads,
              "parameters": sum(p.data.size for p in model.parameters()),
              "train": "forward + backward from a fixed upstream gradient (no loss, no optimiser)"}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        result["blas"] = blas_description()
        result["blas_info"] = _blas_info()
        twin = None
        if torch_available() and not args.no_torch:
            import torch
            twin, t_one, t_batch, t_train = torch_calls(model, x1, xb, douts, args.threads)
            result["torch_version"] = torch.__version__
            result["max_abs_diff"], result["max_abs_output"] = \
                max_abs_difference(model, twin, x1, xb)
        infer_one, infer_batch, train = minilpr_calls(model, x1, xb, douts)
        result["infer_ms"] = 1e3 * best_time(infer_one, args.repeat)
        result["infer_images_per_s"] = B / best_time(infer_batch, args.repeat)
        result["train_images_per_s"] = B / best_time(train, args.repeat)
        result["yolo_loss_ms"] = 1e3 * best_time(yolo_loss_call(model, xb, rng), args.repeat)
        if twin is not None:
            result["torch_infer_ms"] = 1e3 * best_time(t_one, args.repeat)
            result["torch_infer_images_per_s"] = B / best_time(t_batch, args.repeat)
            result["torch_train_images_per_s"] = B / best_time(t_train, args.repeat)
            # Time ratios (minilpr / torch): above 1 means minilpr is slower.
            result["infer_ms_ratio"] = result["infer_ms"] / result["torch_infer_ms"]
            result["infer_time_ratio"] = (result["torch_infer_images_per_s"]
                                          / result["infer_images_per_s"])
            result["train_time_ratio"] = (result["torch_train_images_per_s"]
                                          / result["train_images_per_s"])
        profile = profile_layers(model, xb, douts, args.repeat) if args.profile else None

    print(f"BLAS: {result['blas']}")
    print(f"locator {args.backbone} ({result['parameters']:,} parameters), "
          f"{args.size}×{args.size}, batch {B}, float32, {args.threads} thread(s)")
    print(f"training = {result['train']}\n")
    print(f"{'':<10} {'infer ms (1)':>13} {f'infer img/s ({B})':>16} {f'train img/s ({B})':>16}")
    print(f"{'minilpr':<10} {result['infer_ms']:13.1f} {result['infer_images_per_s']:16.2f} "
          f"{result['train_images_per_s']:16.2f}")
    if twin is not None:
        print(f"{'torch':<10} {result['torch_infer_ms']:13.1f} "
              f"{result['torch_infer_images_per_s']:16.2f} "
              f"{result['torch_train_images_per_s']:16.2f}")
        print(f"{'time ratio':<10} {result['infer_ms_ratio']:12.2f}× "
              f"{result['infer_time_ratio']:15.2f}× {result['train_time_ratio']:15.2f}×   "
              f"(minilpr / torch; target ≤ 1.5×)")
        print(f"\nsame outputs: max |minilpr − torch| = {result['max_abs_diff']:.2e} "
              f"(outputs up to {result['max_abs_output']:.2f})")
    print(f"YOLO loss forward + backward, batch {B}, fixed targets: "
          f"{result['yolo_loss_ms']:.1f} ms (minilpr only)")
    if profile:
        _print_profile(profile)
        result["profile_ms"] = {name: [kind, round(f, 3), round(b, 3)]
                                for name, (kind, f, b) in profile["layers"].items()}
        result["profile_by_kind_ms"] = {k: [round(f, 3), round(b, 3)] for k, (f, b) in
                                        _grouped(profile["layers"], lambda n, k: k).items()}
        result["profile_copies_ms"] = [round(v, 3) for v in profile["copies"]]
    if args.json:
        print(json.dumps(result))
    return 0
