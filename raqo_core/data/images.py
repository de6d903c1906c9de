"""Image loading with errors that name the file and the problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from raqo_core.errors import RAQOError

if TYPE_CHECKING:
    from PIL.Image import Image


def open_rgb(src: str | os.PathLike[str] | Image, *, what: str = "image", convert: bool = True) -> Image:
    """Open ``src`` as an RGB PIL image.

    Paths that are missing or not decodable raise :class:`RAQOError` naming the path. Images
    in another mode (RGBA, L, P, CMYK, I;16 …) are converted to RGB when ``convert`` is true
    (alpha composited on white); with ``convert=False`` they raise, naming the mode.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if isinstance(src, PILImage.Image):
        img = src
        label = what
    else:
        path = Path(src)
        label = f"{what} {str(path)!r}"
        if not path.is_file():
            raise RAQOError(f"{label}: file not found")
        try:
            img = PILImage.open(path)
            img.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as exc:
            raise RAQOError(f"{label}: cannot decode image ({exc}); expected a readable PNG/JPEG/WebP file") from exc
    if img.mode == "RGB":
        return img
    if not convert:
        raise RAQOError(f"{label}: image mode {img.mode!r} is not supported here; expected 'RGB'")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = PILImage.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise RAQOError(f"{label}: cannot convert image mode {img.mode!r} to 'RGB'") from exc
