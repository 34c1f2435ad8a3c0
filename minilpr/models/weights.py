"""Weight files: a model's arrays and a JSON manifest in one ``.npz``, read without pickle.

Layout of a file (``numpy.savez``, so any NumPy can list it)::

    manifest            uint8 array: the manifest as UTF-8 JSON
    state/<name>        one array per parameter and buffer, under its dotted name

The manifest always holds ``format`` ("minilpr-weights"), ``version``, ``kind`` (the model,
e.g. "recognizer"), ``config`` (the model's config as a dict), ``dtype`` (what the floating
arrays were stored as: float32, or float16 to halve the file; they load back as float32) and,
for a recogniser, ``charset`` (the class table as one string). The caller adds the rest: the
training command, seed, data, measured accuracies.

Loading checks, in order, and refuses with one line naming the file (`WeightFileError`): it
exists and is a non-empty, readable file; it is a whole ``.npz`` (not truncated or corrupt) with
no pickled member (``allow_pickle=False`` throughout: loading never runs code from a file); it
is a minilpr weight file; it holds the kind of model asked for; its charset is the one this
minilpr uses; its config builds a model whose names, shapes and dtypes match the stored
arrays; those arrays are finite. ``docs/data.md`` ("Bad input") lists the messages.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from minilpr.data.charset import CHARS

FORMAT = "minilpr-weights"
VERSION = 1
STORED_DTYPES = ("float32", "float16")
# The weights shipped inside the package (trained by ``minilpr train``; docs/training.md).
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "weights"
SHIPPED_RECOGNIZER = SHIPPED / "recognizer.npz"
SHIPPED_LOCATOR = SHIPPED / "locator.npz"


class WeightFileError(ValueError):
    """A weight file that cannot be used; the message is one line naming the file."""


def charset_string() -> str:
    """The class table as one string, blank first: what a recogniser's outputs mean."""
    return "".join(CHARS)


def model_kind(model) -> str:
    """"recognizer" for a `Recognizer`; other models say theirs with a ``kind`` attribute."""
    from minilpr.models.recognizer import Recognizer
    if isinstance(model, Recognizer):
        return "recognizer"
    kind = getattr(model, "kind", None)
    if not isinstance(kind, str):
        raise TypeError(f"save_weights: cannot tell what kind of model a "
                        f"{type(model).__name__} is (give it a 'kind' attribute)")
    return kind


def save_weights(model, path, manifest: dict | None = None, dtype: str = "float32") -> Path:
    """Write ``model``'s state and ``manifest`` to ``path`` atomically (temp file + rename).

    Parameters
    ----------
    model : Module
        Its ``state_dict()`` is saved; a ``config`` attribute with ``to_dict()`` is recorded.
    path : str or Path
        The ``.npz`` file; its folder must exist. An existing file is replaced only once the
        new one is complete, so an interrupted save never leaves a half-written file.
    manifest : dict, optional
        JSON-serialisable facts to keep with the weights. Its ``kind``, ``config`` and
        ``charset``, if given, must agree with the model's.
    dtype : "float32" or "float16"
        How floating arrays are stored (float16 halves the file; values beyond ±65504 are
        refused).

    Returns
    -------
    Path
    """
    path = Path(path)
    if dtype not in STORED_DTYPES:
        raise ValueError(f"save_weights: dtype must be one of {STORED_DTYPES}, got {dtype!r}")
    full = dict(manifest or {})
    facts = {"format": FORMAT, "version": VERSION, "kind": model_kind(model), "dtype": dtype}
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        facts["config"] = config.to_dict()
    if facts["kind"] == "recognizer":
        facts["charset"] = charset_string()
    for key, value in facts.items():
        if key in full and full[key] != value and key not in ("format", "version", "dtype"):
            raise ValueError(f"save_weights: the manifest's {key!r} ({full[key]!r}) disagrees "
                             f"with the model's ({value!r})")
    full.update(facts)
    try:
        text = json.dumps(full, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"save_weights: the manifest is not JSON-serialisable ({err})") from None

    arrays = {"manifest": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for name, value in model.state_dict().items():
        value = np.asarray(value)
        if np.issubdtype(value.dtype, np.floating):
            if dtype == "float16" and np.abs(value).max(initial=0) > np.finfo(np.float16).max:
                raise ValueError(f"save_weights: '{name}' has values beyond float16's range; "
                                 "save as float32")
            value = value.astype(dtype)
        arrays[f"state/{name}"] = value

    return save_npz_atomically(path, arrays)


def save_npz_atomically(path: Path, arrays: dict) -> Path:
    """``numpy.savez`` of ``arrays`` to ``path`` such that a crash never leaves half a file.

    The arrays go to a temporary file in the same folder, flushed to disk, then renamed over
    ``path`` (``os.replace`` is atomic on one file system): whoever reads ``path`` sees the old
    file or the new one, never a mixture. The temporary file is removed if anything fails.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; a saved file should not be
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_weights(path) -> tuple[dict, dict]:
    """``(state, manifest)`` of a weight file, checked only for being a readable minilpr file.

    Every member is read with ``allow_pickle=False``: a pickled object array (which could run
    code when unpickled) is refused, never unpickled.

    Raises `WeightFileError` (one line, naming the file) for a missing, empty, unreadable,
    truncated, corrupt or foreign file.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightFileError(f"{path}: is a folder, not a weight file")
    if not path.is_file():
        raise WeightFileError(f"{path}: weight file not found")
    if path.stat().st_size == 0:
        raise WeightFileError(f"{path}: empty weight file (0 bytes)")
    arrays = _read_members(path)
    if "manifest" not in arrays:
        raise WeightFileError(f"{path}: not a minilpr weight file (no manifest)")
    raw = arrays["manifest"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise WeightFileError(f"{path}: not a minilpr weight file (the manifest is stored as "
                              f"{raw.dtype.str}, not UTF-8 bytes)")
    state = {n[len("state/"):]: value for n, value in arrays.items() if n.startswith("state/")}
    try:
        manifest = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WeightFileError(f"{path}: not a minilpr weight file (unreadable manifest)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise WeightFileError(f"{path}: not a minilpr weight file (format {found!r})")
    if manifest.get("version") != VERSION:
        raise WeightFileError(f"{path}: weight file version {manifest.get('version')!r}; this "
                              f"minilpr reads version {VERSION}")
    if manifest.get("dtype") not in STORED_DTYPES:
        raise WeightFileError(f"{path}: manifest names an unknown dtype "
                              f"{manifest.get('dtype')!r}")
    return state, manifest


def _read_members(path: Path) -> dict:
    """Every array of the ``.npz`` at ``path`` by member name, without unpickling anything."""
    arrays = {}
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head not in (b"PK\x03\x04", b"PK\x05\x06"):
            # np.load would take any other file for a pickle and say so, which misleads.
            raise WeightFileError(f"{path}: truncated or corrupt weight file (not an .npz "
                                  f"archive; it starts with {head!r})")
        with np.load(path, allow_pickle=False) as npz:
            for name in npz.files:
                try:
                    arrays[name] = npz[name]
                except ValueError as err:
                    if "allow_pickle" not in str(err):
                        raise
                    raise WeightFileError(f"{path}: '{name}' is a pickled object array; "
                                          "minilpr never unpickles (it could run code)") from None
    except WeightFileError:
        raise
    except PermissionError as err:
        raise WeightFileError(f"{path}: cannot read the weight file "
                              f"({err.strerror or 'permission denied'})") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WeightFileError(f"{path}: truncated or corrupt weight file ({reason})") from None
    return arrays


def _check_kind_and_charset(path, manifest: dict, kind: str) -> None:
    if manifest.get("kind") != kind:
        raise WeightFileError(f"{path}: holds a {manifest.get('kind')!r} model, not a {kind!r}")
    if "charset" in manifest and manifest["charset"] != charset_string():
        stored, ours = manifest["charset"], charset_string()
        raise WeightFileError(f"{path}: charset mismatch: the weights' {len(stored)} classes "
                              f"are not this minilpr's {len(ours)} "
                              f"({_first_difference(stored, ours)})")
    if kind == "recognizer" and "charset" not in manifest:
        raise WeightFileError(f"{path}: the manifest records no charset")


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"class {i} is {x!r} there, {y!r} here"
    return f"one table stops at {min(len(a), len(b))} classes"


def _load_state(path, model, state: dict) -> None:
    """Copy ``state`` into ``model`` as float32 (buffers keep their dtype), or refuse."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise WeightFileError(f"{path}: config/shape mismatch: missing {missing[:3]}"
                              f"{'...' if len(missing) > 3 else ''}, unexpected "
                              f"{unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
    for name, value in expected.items():
        stored = np.asarray(state[name])
        floating = np.issubdtype(np.asarray(value).dtype, np.floating)
        if floating and not np.issubdtype(stored.dtype, np.floating):
            raise WeightFileError(f"{path}: '{name}' is stored as {stored.dtype.str}; a "
                                  "parameter must be floating point")
        if not floating and not np.issubdtype(stored.dtype, np.integer):
            raise WeightFileError(f"{path}: '{name}' is stored as {stored.dtype.str}; this "
                                  "buffer must be integer")
        if stored.shape != np.shape(value):
            raise WeightFileError(f"{path}: config/shape mismatch: '{name}' is "
                                  f"{stored.shape} in the file but {np.shape(value)} "
                                  "in the model")
        if floating and not np.isfinite(stored).all():
            raise WeightFileError(f"{path}: '{name}' holds NaN or infinite values (saved from "
                                  "a run that diverged?)")
    model.load_state_dict({k: (v.astype(np.float32) if np.issubdtype(v.dtype, np.floating)
                               else v) for k, v in state.items()})


def provenance(path, manifest: dict) -> dict:
    """Where a fine-tune started: the weight file's ``path``, ``step`` and ``images_seen``, as
    the new manifest's ``init`` records them."""
    return {"path": str(path), "step": manifest.get("step"),
            "images_seen": manifest.get("data", {}).get("images_seen")}


def load_weights_into(model, path, kind: str) -> dict:
    """Load a weight file of ``kind`` into an already built ``model``; returns the manifest.

    For models without a config (or whose config the caller has already built from the
    manifest). Refuses a wrong kind, a wrong charset or mismatched names/shapes in one line.
    """
    state, manifest = read_weights(path)
    _check_kind_and_charset(path, manifest, kind)
    _load_state(path, model, state)
    return manifest


def load_recognizer(path, rng=None):
    """Build the `Recognizer` a weight file describes and load its weights.

    Parameters
    ----------
    path : str or Path
    rng : numpy.random.Generator or int or None
        For the dropout layers' masks if the model is trained further.

    Returns
    -------
    (Recognizer, manifest)
        The model in eval mode, float32.
    """
    from minilpr.models.recognizer import Recognizer, RecognizerConfig

    state, manifest = read_weights(path)
    _check_kind_and_charset(path, manifest, "recognizer")
    try:
        config = RecognizerConfig.from_dict(manifest.get("config"))
    except (ValueError, TypeError) as err:
        raise WeightFileError(f"{path}: bad config in the manifest: {err}") from None
    model = Recognizer(config, rng=rng)
    _load_state(path, model, state)
    return model.eval(), manifest
