"""``find_images``: files as given, folders recursively in sorted order, loops walked once."""

import os

import pytest

from minilpr.data.image_files import find_images

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


NO_IMAGES = "no image files (.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff) in this folder or below"


def test_files_and_folders_in_order(tmp_path):
    photos = tmp_path / "photos"
    for name in ("b.jpg", "a.PNG", "sub/c.jpeg", "sub/deeper/d.bmp", "w.webp", "t.TIF",
                 "notes.txt", ".hidden.jpg",
                 "._a.jpg", ".cache/e.jpg", "a0/z.png"):
        touch(photos / name)
    single = touch(tmp_path / "no_extension")
    images, problems = find_images([single, str(photos)])
    assert problems == []
    assert images == [single, photos / "a.PNG", photos / "a0/z.png", photos / "b.jpg",
                      photos / "sub/c.jpeg", photos / "sub/deeper/d.bmp", photos / "t.TIF",
                      photos / "w.webp"]


def test_bad_arguments_get_one_problem_each(tmp_path):
    (tmp_path / "empty").mkdir()
    touch(tmp_path / "texts" / "readme.txt")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    good = touch(tmp_path / "good.jpg")
    images, problems = find_images([tmp_path / "missing.jpg", tmp_path / "empty", good,
                                    tmp_path / "texts", tmp_path / "dangling.jpg"])
    assert images == [good]
    assert problems == [
        (tmp_path / "missing.jpg", "no such file or folder"),
        (tmp_path / "empty", NO_IMAGES),
        (tmp_path / "texts", NO_IMAGES),
        (tmp_path / "dangling.jpg", "broken symbolic link"),
    ]


def test_a_broken_link_inside_a_folder_is_reported(tmp_path):
    touch(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "gone.jpg")
    images, problems = find_images([tmp_path])
    assert images == [tmp_path / "a.jpg"]
    assert problems == [(tmp_path / "b.jpg", "broken symbolic link")]


def test_symlink_loops_end_and_links_are_followed(tmp_path):
    root = tmp_path / "root"
    touch(root / "a.jpg")
    touch(tmp_path / "elsewhere" / "x.jpg")
    (root / "loop").symlink_to(root)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root / "sub")
    (root / "sub" / "back").symlink_to(root)
    (root / "other").symlink_to(tmp_path / "elsewhere")
    (root / "same.jpg").symlink_to(root / "a.jpg")
    images, problems = find_images([root])
    assert problems == []
    assert images == [root / "a.jpg", root / "other" / "x.jpg"]


def test_links_to_themselves(tmp_path):
    touch(tmp_path / "a.jpg")
    (tmp_path / "self").symlink_to(tmp_path / "self")
    (tmp_path / "me.jpg").symlink_to(tmp_path / "me.jpg")
    images, problems = find_images([tmp_path, tmp_path / "self"])
    assert images == [tmp_path / "a.jpg"]
    assert problems == [(tmp_path / "me.jpg", "symbolic link loop"),
                        (tmp_path / "self", "symbolic link loop")]


def test_a_folder_given_twice_or_inside_another_is_walked_once(tmp_path):
    touch(tmp_path / "sub" / "a.jpg")
    images, problems = find_images([tmp_path, tmp_path / "sub", tmp_path / "sub" / "a.jpg"])
    assert images == [tmp_path / "sub" / "a.jpg"] and problems == []


@pytest.mark.skipif(ROOT, reason="root lists folders whatever their permissions")
def test_an_unlistable_folder(tmp_path):
    locked = tmp_path / "locked"
    touch(locked / "a.jpg")
    locked.chmod(0)
    try:
        images, problems = find_images([locked])
    finally:
        locked.chmod(0o755)
    assert images == [] and problems[0][0] == locked and "cannot list" in problems[0][1]


def test_an_unlistable_folder_message(tmp_path, monkeypatch):
    from minilpr.data import image_files

    touch(tmp_path / "locked" / "a.jpg")

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(image_files.os, "scandir", denied)
    images, problems = find_images([tmp_path / "locked"])
    assert images == []
    assert problems == [(tmp_path / "locked", "cannot list this folder (Permission denied)")]
