"""The light of a rendered view: one white directional light and a grey ambient level."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


@dataclass(frozen=True, eq=False)
class Lighting:
    """A white directional light and grey ambient light.

    Attributes:
        rotation: (3, 3) rotation in OpenGL's camera frame (x right, y up, looking down -z)
            from the viewing direction to the direction the light shines in (identity: the
            light shines from the camera along its view).
        intensity: strength of the directional light.
        ambient: grey ambient light level, in [0, 1].
    """

    rotation: np.ndarray
    intensity: float
    ambient: float

    @classmethod
    def from_rotvec(cls, rotvec: np.ndarray, intensity: float, ambient: float) -> 'Lighting':
        """The light turned from the viewing direction by the (3,) axis-angle ``rotvec``."""
        return cls(Rotation.from_rotvec(rotvec).as_matrix(), float(intensity), float(ambient))


#: The overlays' light: from above the camera, tilted 20 degrees down onto the scene, bright
#: enough that the light mesh colours read well over photographs.
OVERLAY_LIGHTING = Lighting(Rotation.from_euler('x', -20, degrees=True).as_matrix(), 2.0, 0.35)
