"""Image files (street-view folders): RGB, resized, float32 in 0..1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from urbansig.protocol import BadInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder`` (not recursive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"IMAGES: {folder} is not a folder.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise BadInput(f"IMAGES: {folder} holds no image ({', '.join(IMAGE_SUFFIXES)}).")
    return paths


def load_images(
    paths: list[Path], size: int, events: Any = None, parameter: str = "STREETVIEW"
) -> np.ndarray:
    """(n, 3, size, size) float32 in 0..1: each image converted to RGB and resized
    (bilinear). BadInput naming ``parameter`` and the first file that cannot be read
    (missing, damaged, cut short)."""
    from PIL import Image

    if int(size) < 1:
        raise BadInput(f"SIZE must be a positive number of pixels, not {size!r}.")
    size = int(size)
    out = np.empty((len(paths), 3, size, size), dtype=np.float32)
    for i, path in enumerate(paths):
        if events is not None:
            events.check_cancelled()
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
                array = np.asarray(rgb, dtype=np.float32)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise BadInput(
                f"{parameter}: cannot read image {path} ({exc}). Is it a complete image file? "
                "Re-export or re-download it."
            ) from exc
        out[i] = array.transpose(2, 0, 1) / 255.0
        if events is not None and (i % 32 == 0 or i == len(paths) - 1):
            events.progress((i + 1) / len(paths), f"loaded {i + 1} of {len(paths)} images")
    return out


def read_image_points(path: Path, path_field: str = "path", layer: str | None = None) -> Any:
    """A point layer of images (e.g. street-view) with its ``path_field`` made absolute
    (relative paths are relative to the layer's folder); BadInput for a missing file."""
    from urbansig.io.vector import read_layer

    path = Path(path)
    frame = read_layer(path, name="INPUT", layer=layer)
    if path_field not in frame.columns:
        raise BadInput(
            f"PATH_FIELD: {path} has no field {path_field!r}; fields are "
            f"{', '.join(c for c in frame.columns if c != 'geometry')}."
        )
    base = path.parent
    absolute = [
        str(p if Path(p).is_absolute() else base / p) for p in frame[path_field].astype(str)
    ]
    for value in absolute:
        if not Path(value).is_file():
            raise BadInput(f"{path}: image {value} (field {path_field}) does not exist.")
    frame[path_field] = absolute
    return frame
