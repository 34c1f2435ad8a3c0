"""Where the plate fonts come from: Noto Sans CJK SC inside ``mplfonts``, DejaVu inside matplotlib.

The fonts travel with pip dependencies (SIL Open Font License; the Bitstream Vera licence for
DejaVu), so nothing is downloaded at run time and no system package is needed. Noto Sans CJK holds
every province character, the special characters and the Latin letters and digits;
``missing_glyphs`` proves it for any string. ``face_path`` finds the other faces the generator
may draw letters and digits with (``minilpr.data.glyphs.FONT_FACES``).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
# face name -> (package, file inside the package's font folder)
FACE_FILES = {
    "noto": ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf"),
    "noto_mono": ("mplfonts", "fonts/NotoSansMonoCJKsc-Regular.otf"),
    "noto_serif": ("mplfonts", "fonts/NotoSerifCJKsc-Regular.otf"),
    "dejavu": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans.ttf"),
    "dejavu_bold": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-Bold.ttf"),
    "dejavu_mono": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSansMono.ttf"),
}


@lru_cache(maxsize=None)
def cjk_font_path() -> Path:
    """The path of ``NotoSansCJKsc-Regular.otf`` inside the installed ``mplfonts`` package.

    Raises
    ------
    FileNotFoundError
        When ``mplfonts`` is not installed or does not contain the font.
    """
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the plate font comes from the pip package 'mplfonts', which is "
                                "not installed: pip install mplfonts")
    path = Path(spec.origin).parent / "fonts" / CJK_FONT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"mplfonts is installed but has no {CJK_FONT_FILE} "
                                f"(looked for {path}); reinstall mplfonts>=0.0.8")
    return path


def missing_glyphs(chars, path: str | Path | None = None) -> list[str]:
    """The characters of ``chars`` for which the font has no glyph (an empty list when all exist).

    Uses FreeType through matplotlib: a character whose glyph index is 0 would be drawn as the
    font's "missing" box, so it counts as missing.
    """
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(path or cjk_font_path()))
    return [c for c in dict.fromkeys(chars) if font.get_char_index(ord(c)) == 0]


@lru_cache(maxsize=None)
def face_path(face: str) -> Path:
    """The font file of ``face`` (a key of ``FACE_FILES``) inside its installed package.

    Raises
    ------
    ValueError
        For an unknown face.
    FileNotFoundError
        When the package or the file is missing.
    """
    if face not in FACE_FILES:
        raise ValueError(f"face must be one of {sorted(FACE_FILES)}, got {face!r}")
    package, file = FACE_FILES[face]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the {face!r} font comes from the pip package {package!r}, "
                                f"which is not installed")
    path = Path(spec.origin).parent / file
    if not path.is_file():
        raise FileNotFoundError(f"{package} is installed but has no {file} (looked for {path})")
    return path
