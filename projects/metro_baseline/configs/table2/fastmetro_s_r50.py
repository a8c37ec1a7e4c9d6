# Table 2 row: FastMETRO-S-R50 (paper layout) on the synthetic body's files (same shapes as
# SMPL's: 6890 -> 1723 -> 431 vertices), for tools/analysis/benchmark.py only.
_base_ = ['../../../../configs/fastmetro_s_r50_synthetic.py']
model = dict(head=dict(network=dict(model_size='S')))
