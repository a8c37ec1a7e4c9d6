# EMDB (Kaufmann et al., ICCV 2023) as the validation and test data: EMDB 1, the 17 sequences
# of the paper's Table 3 (pickle flag emdb1), one sample per good frame, scored with EMDB's
# own protocol (EMDBMetric: MPJPE, PA-MPJPE, MVE, PA-MVE, MPJAE and MPJAE-PA with the SMPL
# regressor, jitter). EMDB is a test set: training stays the 3DPW fine-tuning of pw3d.py, the
# data the released checkpoints that EMDB evaluates were fine-tuned on.
#
# Layout under data/ (EMDB's release, unchanged; see docs/emdb.md):
#   data/emdb/P0..P9/<sequence>/images/%05d.jpg, {P}_{sequence}_data.pkl
#   data/body_models/smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl   (the GT uses the sequence's gender)
# Other sequences: --cfg-options test_dataloader.dataset.subset=all (or emdb2), or
# test_dataloader.dataset.sequences="['P1_14_outdoor_climb']" with subset=None.
_base_ = ['./pw3d.py']

emdb_data_root = 'data/emdb'

# Crops: a square of side 1.2 x the larger side of EMDB's box, around its centre, as the
# 3DPW protocol of METRO / FastMETRO pads its boxes (bbox_padding; GVHMR uses 1.0).
val_dataset = dict(
    _delete_=True,
    type='EMDBDataset',
    data_root=emdb_data_root,
    subset='emdb1',
    bbox_padding=1.2,
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_224}})
val_dataloader = dict(dataset=val_dataset)
test_dataloader = val_dataloader

# GT meshes and joints from the SMPL model of each sequence's gender; predictions through the
# neutral model (vertex-only models: its J_regressor on the predicted mesh).
val_evaluator = dict(
    _delete_=True,
    type='EMDBMetric',
    body_model=dict(model_path='data/body_models/smpl'))
test_evaluator = val_evaluator
