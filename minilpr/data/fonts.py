"""Where the plate font comes from: Noto Sans CJK SC, shipped inside the ``mplfonts`` package.

The font travels with a pip dependency (SIL Open Font License), so nothing is downloaded at run
time and no system package is needed. It holds every province character, the special characters
and the Latin letters and digits; ``missing_glyphs`` proves it for any string.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"


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
