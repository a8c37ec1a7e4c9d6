"""inference_mesh with an MMDetection person detector (RTMDet-tiny, weights set by hand).

No detector checkpoint is downloaded: the detector's classification and box heads are set so
that every anchor says "person" (label 0) with a box reaching past the image; clipped to the
image, those boxes coincide, and the non-maximum suppression keeps one.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('mmdet')

from fastmetro_mm.apis import (detect_people, inference_mesh, init_model,  # noqa: E402
                               init_person_detector)

DET_CONFIG = Path(__import__('mmdet').__file__).parent / '.mim' / 'configs' / 'rtmdet' / \
    'rtmdet_tiny_8xb32-300e_coco.py'


@pytest.fixture(scope='module')
def detector():
    if not DET_CONFIG.is_file():
        pytest.skip(f'mmdet installed without its configs ({DET_CONFIG})')
    torch.manual_seed(0)
    model = init_person_detector(DET_CONFIG, None, 'cpu')
    with torch.no_grad():
        for conv in model.bbox_head.rtm_cls:
            conv.weight.zero_()
            conv.bias.fill_(-10.0)
            conv.bias[0] = 10.0  # person everywhere
        for conv in model.bbox_head.rtm_reg:
            conv.weight.zero_()
            conv.bias.fill_(100.0)  # distances of 100 strides: past every image border
    return model


def test_detected_people_go_through_the_mesh_model(detector, mesh_checkpoint):
    image = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    boxes = detect_people(detector, image)
    assert boxes.shape == (1, 5)
    np.testing.assert_allclose(boxes[0, :4], [0, 0, 160, 120], atol=1.0)
    assert boxes[0, 4] > 0.99
    assert detect_people(detector, image, category_id=1).shape == (0, 5)

    model = init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], 'cpu',
                       cfg_options=mesh_checkpoint['cfg_options'])
    people = inference_mesh(model, image, detector=detector)
    assert len(people) == 1
    np.testing.assert_allclose(people[0].bbox, boxes[0, :4])
    assert people[0].bbox_score == pytest.approx(float(boxes[0, 4]))
    assert inference_mesh(model, image, detector=detector, det_cat_id=1) == []
