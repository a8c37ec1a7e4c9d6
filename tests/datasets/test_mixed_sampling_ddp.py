"""Mixed training over the body mix's five sources: ratios, seeds and two real ranks.

The CombinedDataset is the config's (configs/_base_/datasets/body_mix_h36m_npz.py) over tiny
SPIN npz sources of unequal sizes; the dataloader, with a MixedSourceSampler, is built by
MMEngine's Runner, in one process and in two forked gloo processes, where the
seed is left to the sampler (synchronised across ranks) as a config without one does.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import fastmetro_mm  # noqa: F401  (registers datasets and the sampler)
from fastmetro_mm.datasets.sampling import split_counts

CONFIG = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets/body_mix_h36m_npz.py'
SOURCE_SIZES = [7, 3, 5, 2, 4]  # h36m, coco, muco, up3d, mpii
RATIOS = [0.4, 0.1, 0.2, 0.2, 0.1]
EPOCH = 1001  # odd: two ranks need one padding index
WORLD_SIZE = 2


def write_sources(root: Path) -> None:
    """The five npz files of the config under ``root``/data (no images: never loaded)."""
    cfg = Config.fromfile(str(CONFIG))
    rng = np.random.default_rng(0)
    for source, size in zip(cfg.train_dataloader.dataset.datasets, SOURCE_SIZES):
        path = root / source.data_root / source.ann_file
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, imgname=np.array([f'{path.stem}_{i}.jpg' for i in range(size)]),
                 center=rng.uniform(50, 60, (size, 2)), scale=np.full(size, 0.5),
                 part=np.concatenate([rng.uniform(30, 80, (size, 24, 2)),
                                      np.ones((size, 24, 1))], -1))


def loader_cfg(seed_in_sampler=None) -> dict:
    """The config's train dataloader with a MixedSourceSampler and no image pipeline."""
    cfg = Config.fromfile(str(CONFIG))
    loader = cfg.train_dataloader
    loader.update(batch_size=4, num_workers=0, persistent_workers=False)
    loader.sampler = dict(type='MixedSourceSampler', ratios=RATIOS, num_samples=EPOCH)
    if seed_in_sampler is not None:
        loader.sampler['seed'] = seed_in_sampler
    loader.dataset.pipeline = []
    return loader.to_dict()


def source_of(index: int) -> int:
    return int(np.searchsorted(np.cumsum(SOURCE_SIZES), index, side='right'))


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path, monkeypatch):
    init_default_scope('mmpose')
    monkeypatch.chdir(tmp_path)
    write_sources(tmp_path)


def test_ratios_over_an_epoch_and_same_indices_for_the_same_seed():
    loader = Runner.build_dataloader(loader_cfg(), seed=5)
    sampler = loader.sampler
    assert loader.dataset.lens == SOURCE_SIZES and len(sampler) == EPOCH
    indices = list(sampler)
    counts = np.bincount([source_of(i) for i in indices], minlength=5)
    # Largest-remainder split of the epoch: within one sample of ratio x epoch per source.
    assert counts.tolist() == split_counts(EPOCH, RATIOS)
    assert np.abs(counts / EPOCH - np.array(RATIOS)).max() <= 1.0 / EPOCH
    # Within a source, whole shuffled passes: every sample drawn equally often (+-1).
    for source, size in enumerate(SOURCE_SIZES):
        start = sum(SOURCE_SIZES[:source])
        per_sample = np.bincount([i - start for i in indices if source_of(i) == source],
                                 minlength=size)
        assert per_sample.max() - per_sample.min() <= 1
    again = Runner.build_dataloader(loader_cfg(), seed=5).sampler
    assert list(again) == indices
    assert list(Runner.build_dataloader(loader_cfg(), seed=6).sampler) != indices
    again.set_epoch(1)
    next_epoch = list(again)
    assert next_epoch != indices
    sampler.set_epoch(1)
    assert list(sampler) == next_epoch
    # The samples reach the batches in sampler order.
    batch = next(iter(loader))
    first = list(batch['img_path'])
    expected = [loader.dataset.get_data_info(i)['img_path'] for i in next_epoch[:4]]
    assert first == expected


def _rank_worker(rank: int, tmp_dir: str) -> None:
    os.chdir(tmp_dir)
    dist.init_process_group('gloo', init_method=f'file://{tmp_dir}/rendezvous', rank=rank,
                            world_size=WORLD_SIZE)
    init_default_scope('mmpose')
    loader = Runner.build_dataloader(loader_cfg(), seed=None)  # the sampler syncs a seed
    sampler = loader.sampler
    shares = {}
    for epoch in (0, 3):
        sampler.set_epoch(epoch)
        shares[epoch] = list(sampler)
    sampler.set_epoch(0)
    batch_paths = list(next(iter(loader))['img_path'])
    with open(os.path.join(tmp_dir, f'rank_{rank}.json'), 'w') as f:
        json.dump(dict(seed=sampler.seed, shares=shares, paths=batch_paths), f)
    dist.destroy_process_group()


def test_two_ranks_take_disjoint_shards_covering_the_epoch(tmp_path):
    # Forked from this process, which has no process group: no re-import per rank.
    mp.start_processes(_rank_worker, args=(str(tmp_path), ), nprocs=WORLD_SIZE, join=True,
                       start_method='fork')
    ranks = [json.loads((tmp_path / f'rank_{r}.json').read_text()) for r in range(2)]
    assert ranks[0]['seed'] == ranks[1]['seed']  # broadcast from rank 0
    seed = ranks[0]['seed']
    for epoch in ('0', '3'):
        # The one-process epoch with the synchronised seed, padded to 1002 by repeating
        # its first index, is dealt out alternately: rank 0 positions 0, 2, ...
        single = Runner.build_dataloader(loader_cfg(seed_in_sampler=seed)).sampler
        single.set_epoch(int(epoch))
        epoch_indices = list(single)
        padded = epoch_indices + epoch_indices[:1]
        shares = [ranks[r]['shares'][epoch] for r in range(2)]
        assert len(shares[0]) == len(shares[1]) == (EPOCH + 1) // 2
        assert shares[0] == padded[0::2] and shares[1] == padded[1::2]
        # Together they hold the whole epoch (plus the one padding index).
        assert sorted(shares[0] + shares[1]) == sorted(padded)
    assert ranks[0]['shares']['0'] != ranks[0]['shares']['3']
    # Each rank's first batch holds its own share's samples.
    lens = np.cumsum([0] + SOURCE_SIZES)
    for rank in ranks:
        names = [Path(p).name for p in rank['paths']]
        expected = []
        for index in rank['shares']['0'][:4]:
            source = source_of(index)
            stem = Path(loader_cfg()['dataset']['datasets'][source]['ann_file']).stem
            expected.append(f'{stem}_{index - lens[source]}.jpg')
        assert names == expected
