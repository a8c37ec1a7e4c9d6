# FastMETRO-S-R50 on the licence-free synthetic body (fastmetro_s_r50_synthetic.py), validated
# and tested on synthetic sequences in EMDB's release layout with EMDB's protocol
# (EMDBMetric). Fill the folders with
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_emdb --emdb-sequences 3 --frames 60
# and evaluate a checkpoint of fastmetro_s_r50_synthetic.py with
#   python tools/test.py configs/fastmetro_s_r50_synthetic_emdb.py CHECKPOINT
_base_ = ['./fastmetro_s_r50_synthetic.py']

synthetic_emdb_root = 'data/synthetic_emdb'

# EMDB 1 of the synthetic sequences: all but the last (which is flagged emdb2).
val_dataset = dict(
    _delete_=True,
    type='EMDBDataset',
    data_root=synthetic_emdb_root,
    subset='emdb1',
    bbox_padding=1.2,
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_128}})
val_dataloader = dict(dataset=val_dataset)
test_dataloader = val_dataloader

# The synthetic SMPL_{NEUTRAL,MALE,FEMALE}.pkl of tools/make_synthetic_models.py.
val_evaluator = dict(
    _delete_=True,
    type='EMDBMetric',
    body_model=dict(model_path='data/synthetic'))
test_evaluator = val_evaluator
