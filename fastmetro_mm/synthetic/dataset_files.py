"""Writing dataset files so that the same arrays always give the same bytes."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict

import numpy as np
from PIL import Image


def save_image(image: np.ndarray, path: Path) -> None:
    """(H, W, 3) RGB or (H, W) grey uint8 as JPEG (quality 95) or PNG by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)


def save_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    """``np.savez`` without its time stamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f'{key}.npy', date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, 'w', force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
