# METRO-R50-style baseline on Human3.6M: configs/fastmetro_s_r50_h36m.py (ResNet-50, MeshLoss,
# the body recipe on the mixed body data, MeshMetric) with FastMETRO's network replaced by
# METRO's encoder-only transformer (./_base_/metro_r50_body.py) on the same fixed up-sampler,
# loss and metric. The recipe stays FastMETRO's (AdamW 1e-4); METRO itself trained with Adam
# for 200 epochs.
#
# Run from the repository root with the repository on PYTHONPATH (the project's package is
# imported as projects.metro_baseline.metro_baseline), see the project README.
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    './_base_/metro_r50_body.py',
    '../../../configs/_base_/schedules/fastmetro_adamw.py',
    '../../../configs/_base_/datasets/body_mix_h36m.py',
]

custom_imports = dict(
    imports=['fastmetro_mm', 'projects.metro_baseline.metro_baseline'],
    allow_failed_imports=False)
