"""The image files named by a command line: files as given, folders walked recursively.

``find_images(["car.jpg", "photos/"])`` is what ``minilpr read IMAGE|DIR ...`` reads. A file
named on the command line is taken whatever its extension (``imread`` tells an image by its
bytes and says so in one line when it is not one); inside a folder only ``IMAGE_EXTENSIONS``
files count, and hidden entries (a leading ``.``, such as macOS's ``._photo.jpg`` resource
files) are passed over. Folders are walked depth first, each in sorted order; symbolic links
are followed, but a folder already walked (a link back up the tree, or the same folder reached
twice) is walked only once, so a link loop ends, and a file reached twice is listed once.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from minilpr.data.imageio import IMAGE_EXTENSIONS


def find_images(paths) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The image files under ``paths``, and one ``(path, problem)`` for each that gave none.

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders, in the order they should be read.

    Returns
    -------
    images : list of Path
        Each argument's files in turn: a file as given, a folder's image files recursively in
        sorted order (as paths through the folder given, not resolved).
    problems : list of (Path, str)
        One line each: an argument that does not exist, a broken link or a link loop (given,
        or inside a folder under an image extension), a folder holding no image file however
        deep, and any folder inside that could not be listed.
    """
    images: list[Path] = []
    problems: list[tuple[Path, str]] = []
    seen_files: set[Path] = set()
    seen_dirs: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            if path.resolve() in seen_dirs:
                continue
            found = _walk(path, images, problems, seen_files, seen_dirs)
            if found == 0 and not any(p == path for p, _ in problems):
                problems.append((path, f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in "
                                       "this folder or below"))
        elif path.exists():
            _add(path, images, seen_files)
        elif path.is_symlink():
            problems.append((path, _link_problem(path)))
        else:
            problems.append((path, "no such file or folder"))
    return images, problems


def _add(path: Path, images: list[Path], seen_files: set[Path]) -> None:
    resolved = path.resolve()
    if resolved not in seen_files:
        seen_files.add(resolved)
        images.append(path)


def _link_problem(path: Path) -> str:
    """Why the symbolic link ``path`` leads nowhere: a loop of links, or a missing target."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
    return "broken symbolic link"


def _walk(folder: Path, images, problems, seen_files, seen_dirs) -> int:
    """Append ``folder``'s image files to ``images``, depth first, each level sorted by name;
    return how many image files it holds (those listed before included)."""
    resolved = folder.resolve()
    if resolved in seen_dirs:
        return 0
    seen_dirs.add(resolved)
    found = 0
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        problems.append((folder, f"cannot list this folder ({error.strerror or error})"))
        return 0
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            is_dir = is_file = False
        if is_dir:
            found += _walk(path, images, problems, seen_files, seen_dirs)
        elif path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        elif is_file:
            _add(path, images, seen_files)
            found += 1
        elif entry.is_symlink():
            problems.append((path, _link_problem(path)))
    return found
