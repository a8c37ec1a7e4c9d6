"""benchmark.py --official-repo: a folder that is not an official checkout is refused clearly.

The side-by-side timing itself needs the user's checkout of postech-ami/FastMETRO, which is
not part of this project; docs/benchmarks.md holds its measured table. The allocator
setting printed in its header is checked here.
"""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_official_repo_that_is_not_a_checkout_is_named(tmp_path):
    (tmp_path / 'src' / 'modeling').mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark.py', '--official-repo', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert str(tmp_path) in result.stderr
    assert 'src/modeling/model/modeling_fastmetro.py' in result.stderr
    assert 'Traceback' not in result.stderr


def test_benchmark_needs_a_config_or_the_official_repo():
    result = subprocess.run([sys.executable, 'tools/analysis/benchmark.py'], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert '--official-repo' in result.stderr


def test_allocator_setting_names_what_the_environment_sets(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from tools.analysis.allocator_setting import ALLOCATOR_VARIABLES, allocator_setting
    for name in ALLOCATOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert allocator_setting() == 'glibc malloc defaults'
    monkeypatch.setenv('THP_MEM_ALLOC_ENABLE', '1')
    monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '4294967296')
    assert allocator_setting() == 'THP_MEM_ALLOC_ENABLE=1, MALLOC_MMAP_THRESHOLD_=4294967296'
