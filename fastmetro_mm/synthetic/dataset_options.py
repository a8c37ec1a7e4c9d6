"""What a synthetic dataset is made of: the options of ``make_synthetic_dataset``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

from .backgrounds import BACKGROUND_KINDS

#: Image size (width, height) when none is given.
DEFAULT_BODY_IMAGE_SIZE = (320, 240)
DEFAULT_HAND_IMAGE_SIZE = (224, 224)


@dataclass
class SyntheticDatasetOptions:
    """Options of a rendered synthetic dataset (the same for the same images, bit for bit).

    Attributes:
        model_dir: folder with SMPL_NEUTRAL.pkl / MANO_RIGHT.pkl; the synthetic ones are
            written there when missing.
        out_dir: the dataset folder.
        num_train, num_test: number of images per split.
        seed: seed of every random draw.
        max_yaw: body: largest turn away from facing the camera, degrees, in [0, 180].
        max_hand_rotation: hand: largest turn away from palm to the camera, fingers up,
            degrees, in [0, 180] (180: any orientation, uniform).
        pose_prototypes: number N of prototype poses (body) or hand articulations (a curl,
            bends and spread per finger), shared by both splits, every person or hand takes
            one of, jittered; 0: every pose drawn independently.
        prototype_jitter: with prototypes: largest change of each joint angle (body) or of
            each articulation value (hand) as a fraction of its range, in [0, 1].
        part_colours: body: colour each body part like clothes instead of one colour per person.
        backgrounds: background kinds to draw from (a subset of ``BACKGROUND_KINDS``).
        image_size: (width, height); None: 320 x 240 (body) or 224 x 224 (hand).
        hand: the right hand in FreiHAND's layout instead of the body in SPIN's.
        save_masks: also write the silhouettes as PNG.
        overwrite: replace an existing dataset in ``out_dir``.
    """

    model_dir: Union[str, Path]
    out_dir: Union[str, Path] = Path('data/synthetic_dataset')
    num_train: int = 1000
    num_test: int = 100
    seed: int = 0
    max_yaw: float = 180.0
    max_hand_rotation: float = 180.0
    pose_prototypes: int = 0
    prototype_jitter: float = 0.05
    part_colours: bool = False
    backgrounds: Sequence[str] = BACKGROUND_KINDS
    image_size: Optional[Tuple[int, int]] = None
    hand: bool = False
    save_masks: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.model_dir, self.out_dir = Path(self.model_dir), Path(self.out_dir)
        if self.image_size is None:
            self.image_size = DEFAULT_HAND_IMAGE_SIZE if self.hand else DEFAULT_BODY_IMAGE_SIZE
        self.image_size = tuple(int(v) for v in self.image_size)
        self.backgrounds = tuple(self.backgrounds)
        problems = []
        if self.num_train < 0 or self.num_test < 0:
            problems.append(f'num_train / num_test must be >= 0, got {self.num_train} / '
                            f'{self.num_test}')
        if not 0 <= self.max_yaw <= 180:
            problems.append(f'max_yaw must be within [0, 180] degrees, got {self.max_yaw}')
        if not 0 <= self.max_hand_rotation <= 180:
            problems.append(f'max_hand_rotation must be within [0, 180] degrees, got '
                            f'{self.max_hand_rotation}')
        if self.pose_prototypes < 0:
            problems.append(f'pose_prototypes must be >= 0, got {self.pose_prototypes}')
        if not 0 <= self.prototype_jitter <= 1:
            problems.append(f'prototype_jitter must be within [0, 1], got '
                            f'{self.prototype_jitter}')
        if self.hand and self.part_colours:
            problems.append('part_colours applies to the body, not to hand')
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            problems.append(f'image_size must be (width, height), at least 16 x 16, got '
                            f'{self.image_size}')
        unknown = sorted(set(self.backgrounds) - set(BACKGROUND_KINDS))
        if not self.backgrounds or unknown:
            problems.append(f'backgrounds must be a non-empty subset of {BACKGROUND_KINDS}, '
                            f'got {self.backgrounds}')
        if problems:
            raise ValueError('SyntheticDatasetOptions: ' + '; '.join(problems))
