# METRO-R50-style body model: FastMETRO's R50 body model (configs/_base_/models/
# fastmetro_r50_body.py: ResNet-50, the MeshHead with its hierarchy, body model, joint
# regressor and MeshLoss) with the network swapped for METRO's encoder-only transformer (three
# blocks 2051 -> 512 -> 128 -> 3, hidden 1024 / 256 / 128, 4 layers and 4 heads each, FFN
# 3072) on the same fixed up-sampler, loss and outputs. The configs that list it import the
# project's package (custom_imports), which registers METRONetwork.
_base_ = ['../../../../configs/_base_/models/fastmetro_r50_body.py']

model = dict(
    head=dict(
        network=dict(
            _delete_=True,
            type='METRONetwork',
            hidden_dims=(1024, 256, 128),
            output_dims=(512, 128, 3),
            num_layers=4,
            num_heads=4,
            ffn_dim=3072,
            dropout=0.1,
            mask_ratio=0.3,
            # True adds the released METRO's unused BERT tables (frozen, no compute) so that
            # the transformer counts the paper's 102.3M parameters; off for training.
            with_unused_bert_tables=False)))
