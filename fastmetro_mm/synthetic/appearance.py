"""How a synthetic person looks: mesh colour, clothes-like part colours and the light."""
from __future__ import annotations

import colorsys
from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from fastmetro_mm.render.lighting import Lighting

def sample_mesh_colour(rng: np.random.Generator, background: np.ndarray,
                       min_distance: float = 110.0) -> np.ndarray:
    """A base colour that stands out from the background's mean colour.

    Args:
        rng: Random generator.
        background: (H, W, 3) uint8 background.
        min_distance: Required RGB distance (0..255 scale) to the background mean.

    Returns:
        (3,) RGB in [0, 1].
    """
    mean = background.reshape(-1, 3).mean(0)
    colour = rng.uniform(0, 255, size=3)
    for _ in range(20):
        if np.linalg.norm(colour - mean) >= min_distance:
            break
        colour = rng.uniform(0, 255, size=3)
    else:
        colour = np.where(mean > 127.5, 25.0, 230.0)  # the far corner of the colour cube
    return colour / 255.0


#: Body parts of :func:`body_part_colours`: SMPL joints whose skinning dominates each part.
#: Left and right share a part (and so a colour), so a horizontal flip of the image keeps
#: colours and joint labels consistent.
BODY_PARTS = (
    ('torso', ('Pelvis', 'Spine1', 'Spine2', 'Spine3', 'L_Collar', 'R_Collar')),
    ('head', ('Neck', 'Head')),
    ('upper arms', ('L_Shoulder', 'R_Shoulder')),
    ('forearms and hands', ('L_Elbow', 'R_Elbow', 'L_Wrist', 'R_Wrist', 'L_Hand', 'R_Hand')),
    ('thighs', ('L_Hip', 'R_Hip')),
    ('shins and feet', ('L_Knee', 'R_Knee', 'L_Ankle', 'R_Ankle', 'L_Foot', 'R_Foot')),
)


def body_part_colours(skinning_weights: np.ndarray, joint_names: Sequence[str]) -> np.ndarray:
    """Per-vertex colours, one saturated hue per body part (like clothes), so that limbs can
    be told apart in the image.

    Args:
        skinning_weights: (V, J) linear blend skinning weights of the body model.
        joint_names: The J joint names (``SMPL_24.names``).

    Returns:
        (V, 3) RGB in [0, 1].
    """
    part_of_joint = {joint: part for part, (_, joints) in enumerate(BODY_PARTS)
                     for joint in joints}
    missing = [name for name in joint_names if name not in part_of_joint]
    if missing or len(joint_names) != skinning_weights.shape[1]:
        raise ValueError(f'body_part_colours: needs the {len(part_of_joint)} '
                         f'SMPL joints, one per skinning-weight column; got {len(joint_names)} '
                         f'names for {skinning_weights.shape[1]} columns (no part for {missing})')
    hues = np.arange(len(BODY_PARTS)) / len(BODY_PARTS)
    palette = np.array([colorsys.hsv_to_rgb(hue, 0.85, 1.0) for hue in hues])
    parts = np.array([part_of_joint[name] for name in joint_names])
    return palette[parts[np.argmax(skinning_weights, axis=1)]]


def sample_light(rng: np.random.Generator) -> Lighting:
    """A directional light from the camera's side of the scene and an ambient level."""
    # A tilt of up to ~55 degrees off the viewing direction keeps the lit side visible.
    tilt = Rotation.from_euler('xy', rng.uniform(-0.95, 0.95, size=2))
    intensity = float(rng.uniform(2.0, 5.0))
    ambient = float(rng.uniform(0.15, 0.45))
    return Lighting.from_rotvec(tilt.as_rotvec(), intensity, ambient)
