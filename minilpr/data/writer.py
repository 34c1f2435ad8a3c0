"""``minilpr synth``: write a synthetic data set to disk, with a manifest that says how it was made.

::

    minilpr synth plates --n 10000 --out data/plates --seed 0            # 32×220 grayscale crops
    minilpr synth plates --n 500 --out data/plates-rgb --seed 1 --size 48 160 --color
    minilpr synth scenes --n 2000 --out data/scenes --seed 0             # 416×416 scenes
    minilpr synth scenes --n 100 --out data/wide --seed 2 --size 480 640 --max-plates 4

``plates`` writes a crop folder (``京A12345.png``, ``京A12345_2.png`` for a repeated number) that
``crops.CropFolder`` reads back. ``scenes`` writes ``images/000000.jpg`` and YOLO label files
``labels/000000.txt`` (class 0 = plate, with the four corners appended) that
``yolo.YoloFolder`` reads back, and ``texts/000000.txt`` (one plate number per line, in the
label file's order) that ``minilpr eval pipeline`` scores the reads against. Both write
``manifest.json``: the minilpr version, the command line, the seed, the generator's
parameters, and one record per file with its text, plate kind, box and corners.

Sample ``i`` of a scene set is drawn from ``numpy.random.default_rng([seed, i])``, so any one
scene can be redrawn alone; a plate set comes from one ``PlateGenerator(seed)`` in order.

``--out`` is created if missing, but its parent must exist: a typo in a parent folder is an
error, not a new tree. A non-empty ``--out`` is refused unless ``--force``, which replaces the
data set ``minilpr synth`` wrote there: the files its old manifest lists are deleted first, other
files (notes, a README) are kept, and image or label files that no manifest lists make it refuse,
so the new manifest always lists every data file in the folder. Every bad argument is one line
on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

import minilpr
from minilpr.data.crops import crop_file_name
from minilpr.data.imageio import IMAGE_EXTENSIONS, imwrite
from minilpr.data.scenes import SceneConfig, render_scene
from minilpr.data.yolo import YoloLabels, write_yolo_labels, xyxy_to_yolo

MANIFEST = "manifest.json"


class _ArgumentError(Exception):
    """A bad command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _ArgumentError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minilpr synth",
                     description="Write a synthetic data set with a manifest.json.")
    sub = parser.add_subparsers(dest="what", metavar="{plates,scenes}")
    sub.required = True
    plates = sub.add_parser("plates", help="plate crops for the recogniser (a crop folder)")
    scenes = sub.add_parser("scenes", help="car scenes for the locator (images + YOLO labels)")
    for command, size in ((plates, (32, 220)), (scenes, (416, 416))):
        command.add_argument("--n", type=int, required=True, help="how many files to write")
        command.add_argument("--out", type=Path, required=True,
                             help="the output folder; created if missing, but its parent "
                                  "folder must exist")
        command.add_argument("--seed", type=int, default=0,
                             help="random seed, 0 or more (default 0)")
        command.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=size,
                             help=f"image height and width in pixels (default {size[0]} {size[1]})")
        command.add_argument("--force", action="store_true",
                             help="replace the data set minilpr synth wrote in a non-empty "
                                  "folder: the files its manifest.json lists are deleted first, "
                                  "other files are kept; refused if the folder holds image or "
                                  "label files no manifest lists")
        command.add_argument("--quiet", action="store_true", help="no progress bar")
    plates.add_argument("--color", action="store_true", help="RGB crops instead of grayscale")
    plates.add_argument("--clean", action="store_true",
                        help="no augmentation: frontal, tight, clean plates")
    scenes.add_argument("--max-plates", type=int, default=3,
                        help="at most this many plates (cars) per scene (default 3)")
    scenes.add_argument("--classic", action="store_true",
                        help="the first generator's scenes (SceneConfig.classic()): drawn, "
                             "frontal, no real plate statistics, no photographic effects")
    scenes.add_argument("--jpeg-quality", type=int, default=92,
                        help="JPEG quality of the scene images (default 92)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``minilpr synth``; returns the exit status (0 done, 2 bad arguments or folder)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        old_files = _check(args)
        _prepare(args.out, old_files)
    except _ArgumentError as error:
        print(f"minilpr synth: error: {error}", file=sys.stderr)
        return 2
    write = write_plates if args.what == "plates" else write_scenes
    try:
        manifest = write(args)
        manifest["command"] = ["minilpr", "synth", *argv]
        (args.out / MANIFEST).write_text(format_manifest(manifest), encoding="utf-8")
    except OSError as error:
        print(f"minilpr synth: error: writing into {args.out} failed "
              f"({error.strerror or error})", file=sys.stderr)
        return 1
    print(f"wrote {args.n} {args.what} and {MANIFEST} to {args.out}")
    return 0


def format_manifest(manifest: dict) -> str:
    """JSON text of ``manifest``: the header indented, then one line per file record, so that
    a manifest of 100,000 files stays readable and diffable (plain ``json.load`` reads it)."""
    files = manifest.get("files", [])
    header = {k: v for k, v in manifest.items() if k != "files"}
    head = json.dumps(header, ensure_ascii=False, indent=1)
    lines = [json.dumps(record, ensure_ascii=False) for record in files]
    body = ",\n  ".join(lines)
    return head[:-2] + ',\n "files": [\n  ' + body + "\n ]\n}\n"


def _check(args) -> list[Path]:
    """Refuse what cannot work, in one line each, before anything is written; return the old
    data set's files that ``--force`` will delete."""
    if args.n < 1:
        raise _ArgumentError(f"--n must be at least 1, got {args.n}")
    if args.seed < 0:
        raise _ArgumentError(f"--seed must be 0 or more, got {args.seed}")
    height, width = args.size
    smallest = (8, 8) if args.what == "plates" else (64, 64)
    if height < smallest[0] or width < smallest[1]:
        raise _ArgumentError(f"--size {height} {width} is too small for {args.what}; "
                             f"at least {smallest[0]} {smallest[1]}")
    if args.what == "scenes":
        if args.max_plates < 1:
            raise _ArgumentError(f"--max-plates must be at least 1, got {args.max_plates}")
        if not 1 <= args.jpeg_quality <= 100:
            raise _ArgumentError(f"--jpeg-quality must be 1..100, got {args.jpeg_quality}")
    out = args.out
    _check_place(out)
    if not out.is_dir() or not any(out.iterdir()):
        return []
    if not args.force:
        raise _ArgumentError(f"--out {out} is not empty; choose another folder or add --force")
    listed = _listed_files(out)
    stray = sorted(set(_data_files(out)) - set(listed))
    if stray:
        raise _ArgumentError(f"--out {out} holds {len(stray)} image or label file(s) that no "
                             f"{MANIFEST} lists (first: {stray[0].relative_to(out)}); --force "
                             "only replaces a data set minilpr synth wrote: empty the folder "
                             "or choose another")
    return listed


def _check_place(out: Path) -> None:
    """``out`` can be a folder minilpr synth writes into: it is one, or its parent is."""
    if out.exists():
        if not out.is_dir():
            raise _ArgumentError(f"--out {out} exists and is not a folder")
        target = out
    else:
        parent = out.parent
        if not parent.is_dir():
            ancestor = next((a for a in out.parents if a.exists()), None)
            if ancestor is not None and not ancestor.is_dir():
                raise _ArgumentError(f"--out {out} is under {ancestor}, which is a file, "
                                     "not a folder")
            raise _ArgumentError(f"--out {out}: its parent folder {parent} does not exist "
                                 "(minilpr synth creates only the last folder: check the "
                                 "path for a typo, or create the parent first)")
        target = parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise _ArgumentError(f"--out {out}: cannot write into {target} (permission denied)")


def _data_files(out: Path) -> list[Path]:
    """The files in ``out`` a data set reader would take: images anywhere, label texts."""
    return [p for p in out.rglob("*") if p.is_file() and (
        p.suffix.lower() in IMAGE_EXTENSIONS
        or (p.suffix == ".txt" and p.parent.name in ("labels", "texts")))]


def _listed_files(out: Path) -> list[Path]:
    """The existing files inside ``out`` that its ``manifest.json`` lists (none without one)."""
    try:
        records = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    root = out.resolve()
    listed = []
    for record in records if isinstance(records, list) else []:
        for key in ("file", "labels", "texts"):
            name = record.get(key) if isinstance(record, dict) else None
            if not isinstance(name, str):
                continue
            path = out / name
            if path.is_file() and root in path.resolve().parents:
                listed.append(path)
    return listed


def _prepare(out: Path, old_files: list[Path]) -> None:
    """Create ``out`` (its parent exists) and delete the old data set's files from it."""
    try:
        out.mkdir(exist_ok=True)
        for path in old_files:
            path.unlink()
        (out / MANIFEST).unlink(missing_ok=True)
        for sub in ("images", "labels", "texts"):
            if (out / sub).is_dir() and not any((out / sub).iterdir()):
                (out / sub).rmdir()
    except OSError as error:
        raise _ArgumentError(f"--out {out}: cannot prepare the folder "
                             f"({error.strerror or error})") from None


def _header(args, generator: dict) -> dict:
    return {"minilpr_version": minilpr.__version__, "kind": args.what, "n": args.n,
            "seed": args.seed, "size": list(args.size), "generator": generator}


def _progress(args, what: str):
    return tqdm(range(args.n), desc=f"synth {what}", unit=what[:-1], disable=args.quiet,
                file=sys.stderr)


def write_plates(args) -> dict:
    """Write ``args.n`` plate crops into ``args.out`` as a crop folder; return the manifest."""
    from minilpr.data import augment as aug
    from minilpr.data.synth import PlateGenerator

    config = None if args.clean else aug.AugmentConfig()
    generator = PlateGenerator(seed=args.seed, size=tuple(args.size), color=args.color,
                               augment=config)
    header = _header(args, {"name": "PlateGenerator", "color": args.color,
                            "augment": None if config is None else asdict(config)})
    taken: set[str] = set()
    records = []
    for _ in _progress(args, "plates"):
        sample = generator.sample()
        name = crop_file_name(sample.text, taken, ".png")
        imwrite(args.out / name, sample.image)
        records.append({"file": name, "text": sample.text, "kind": sample.kind,
                        "plate_type": sample.plate_type,
                        "tilt_deg": round(float(sample.tilt_deg), 3),
                        "yaw_deg": round(float(sample.yaw_deg), 3),
                        "pitch_deg": round(float(sample.pitch_deg), 3),
                        "corners": np.round(sample.corners.astype(np.float64), 2).tolist()})
    return {**header, "files": records}


def write_scenes(args) -> dict:
    """Write ``args.n`` scenes as ``images/*.jpg`` + ``labels/*.txt`` + ``texts/*.txt``; return
    the manifest."""
    height, width = args.size
    make = SceneConfig.classic if getattr(args, "classic", False) else SceneConfig
    config = make(height=height, width=width, max_plates=args.max_plates)
    header = _header(args, {"name": "render_scene", **config.to_dict(),
                            "jpeg_quality": args.jpeg_quality,
                            "sample_rng": "numpy.random.default_rng([seed, index])"})
    images, labels, texts = args.out / "images", args.out / "labels", args.out / "texts"
    for folder in (images, labels, texts):
        folder.mkdir(exist_ok=True)
    digits = max(6, len(str(args.n - 1)))
    scale = np.array([width, height], np.float64)
    records = []
    for index in _progress(args, "scenes"):
        scene = render_scene(np.random.default_rng([args.seed, index]), config)
        stem = f"{index:0{digits}d}"
        imwrite(images / f"{stem}.jpg", scene.image, jpeg_quality=args.jpeg_quality)
        yolo = YoloLabels(
            classes=np.zeros(len(scene.plates), np.int64),
            boxes=xyxy_to_yolo(scene.boxes, (height, width)),
            corners=np.clip(scene.corners / scale, 0, 1))
        write_yolo_labels(labels / f"{stem}.txt", yolo)
        (texts / f"{stem}.txt").write_text("".join(f"{p.text}\n" for p in scene.plates),
                                           encoding="utf-8")
        records.append({"file": f"images/{stem}.jpg", "labels": f"labels/{stem}.txt",
                        "texts": f"texts/{stem}.txt",
                        "index": index, "plates": [p.to_dict() for p in scene.plates]})
    return {**header, "files": records}
