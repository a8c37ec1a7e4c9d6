# The 21 hand joints of FreiHAND / METRO / FastMETRO (wrist, then each finger base to tip,
# thumb first), as an MMPose metainfo file (read with ``dict(from_file=...)``; see
# fastmetro_mm.datasets.metainfo). Order: fastmetro_mm.mesh.joint_sets.MANO_21 (a test checks
# it). A hand has no flip pairs: a mirrored right hand is a left hand.
# Sigmas: COCO-WholeBody's hand values, which use the same joint order.
dataset_info = dict(
    dataset_name='mano21_hand',
    paper_info=dict(
        author='Zimmermann, Christian and Ceylan, Duygu and Yang, Jimei and Russell, Bryan '
        'and Argus, Max and Brox, Thomas',
        title='FreiHAND: A Dataset for Markerless Capture of Hand Pose and Shape from Single '
        'RGB Images',
        container='ICCV',
        year='2019',
        homepage='https://lmb.informatik.uni-freiburg.de/projects/freihand/',
    ),
    keypoint_info={
        0: dict(name='Wrist', id=0, color=[255, 255, 255], type='', swap=''),
        1: dict(name='Thumb_1', id=1, color=[255, 128, 0], type='', swap=''),
        2: dict(name='Thumb_2', id=2, color=[255, 128, 0], type='', swap=''),
        3: dict(name='Thumb_3', id=3, color=[255, 128, 0], type='', swap=''),
        4: dict(name='Thumb_4', id=4, color=[255, 128, 0], type='', swap=''),
        5: dict(name='Index_1', id=5, color=[255, 153, 255], type='', swap=''),
        6: dict(name='Index_2', id=6, color=[255, 153, 255], type='', swap=''),
        7: dict(name='Index_3', id=7, color=[255, 153, 255], type='', swap=''),
        8: dict(name='Index_4', id=8, color=[255, 153, 255], type='', swap=''),
        9: dict(name='Middle_1', id=9, color=[102, 178, 255], type='', swap=''),
        10: dict(name='Middle_2', id=10, color=[102, 178, 255], type='', swap=''),
        11: dict(name='Middle_3', id=11, color=[102, 178, 255], type='', swap=''),
        12: dict(name='Middle_4', id=12, color=[102, 178, 255], type='', swap=''),
        13: dict(name='Ring_1', id=13, color=[255, 51, 51], type='', swap=''),
        14: dict(name='Ring_2', id=14, color=[255, 51, 51], type='', swap=''),
        15: dict(name='Ring_3', id=15, color=[255, 51, 51], type='', swap=''),
        16: dict(name='Ring_4', id=16, color=[255, 51, 51], type='', swap=''),
        17: dict(name='Pinky_1', id=17, color=[0, 255, 0], type='', swap=''),
        18: dict(name='Pinky_2', id=18, color=[0, 255, 0], type='', swap=''),
        19: dict(name='Pinky_3', id=19, color=[0, 255, 0], type='', swap=''),
        20: dict(name='Pinky_4', id=20, color=[0, 255, 0], type='', swap=''),
    },
    skeleton_info={
        0: dict(link=('Wrist', 'Thumb_1'), id=0, color=[255, 128, 0]),
        1: dict(link=('Thumb_1', 'Thumb_2'), id=1, color=[255, 128, 0]),
        2: dict(link=('Thumb_2', 'Thumb_3'), id=2, color=[255, 128, 0]),
        3: dict(link=('Thumb_3', 'Thumb_4'), id=3, color=[255, 128, 0]),
        4: dict(link=('Wrist', 'Index_1'), id=4, color=[255, 153, 255]),
        5: dict(link=('Index_1', 'Index_2'), id=5, color=[255, 153, 255]),
        6: dict(link=('Index_2', 'Index_3'), id=6, color=[255, 153, 255]),
        7: dict(link=('Index_3', 'Index_4'), id=7, color=[255, 153, 255]),
        8: dict(link=('Wrist', 'Middle_1'), id=8, color=[102, 178, 255]),
        9: dict(link=('Middle_1', 'Middle_2'), id=9, color=[102, 178, 255]),
        10: dict(link=('Middle_2', 'Middle_3'), id=10, color=[102, 178, 255]),
        11: dict(link=('Middle_3', 'Middle_4'), id=11, color=[102, 178, 255]),
        12: dict(link=('Wrist', 'Ring_1'), id=12, color=[255, 51, 51]),
        13: dict(link=('Ring_1', 'Ring_2'), id=13, color=[255, 51, 51]),
        14: dict(link=('Ring_2', 'Ring_3'), id=14, color=[255, 51, 51]),
        15: dict(link=('Ring_3', 'Ring_4'), id=15, color=[255, 51, 51]),
        16: dict(link=('Wrist', 'Pinky_1'), id=16, color=[0, 255, 0]),
        17: dict(link=('Pinky_1', 'Pinky_2'), id=17, color=[0, 255, 0]),
        18: dict(link=('Pinky_2', 'Pinky_3'), id=18, color=[0, 255, 0]),
        19: dict(link=('Pinky_3', 'Pinky_4'), id=19, color=[0, 255, 0]),
    },
    joint_weights=[1.0] * 21,
    sigmas=[
        0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022,
        0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031
    ])
