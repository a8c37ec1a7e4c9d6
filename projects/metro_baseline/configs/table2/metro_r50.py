# Table 2 row: the METRO-R50-style baseline, with the released METRO's unused BERT tables
# (frozen; no compute) so that the transformer counts the paper's 102.3M parameters. For
# tools/analysis/benchmark.py only.
_base_ = ['../metro_r50_synthetic.py']
model = dict(head=dict(network=dict(with_unused_bert_tables=True)))
