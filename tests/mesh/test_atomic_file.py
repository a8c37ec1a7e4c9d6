import os

import pytest

from fastmetro_mm.mesh.atomic_file import atomic_write


def test_writes_with_plain_permissions_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / 'out.bin'
    with atomic_write(path) as stream:
        stream.write(b'first')
    assert path.read_bytes() == b'first'
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(FileExistsError, match='--force'):
        with atomic_write(path, exists_hint='pass --force') as stream:
            stream.write(b'second')
    with atomic_write(path, overwrite=True) as stream:
        stream.write(b'second')
    assert path.read_bytes() == b'second'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.bin']


def test_an_error_while_writing_leaves_nothing(tmp_path):
    path = tmp_path / 'out.bin'
    with pytest.raises(RuntimeError):
        with atomic_write(path) as stream:
            stream.write(b'half')
            raise RuntimeError('writer failed')
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_the_suffix_and_publishes_only_on_success(tmp_path):
    from fastmetro_mm.mesh.atomic_file import atomic_path
    path = tmp_path / 'clip.mp4'
    with atomic_path(path) as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == '.mp4'
        assert not path.exists()
        temporary.write_bytes(b'video')
    assert path.read_bytes() == b'video'
    with pytest.raises(FileExistsError, match='clip.mp4'):
        with atomic_path(path):
            pass
    with pytest.raises(RuntimeError):
        with atomic_path(path, overwrite=True) as temporary:
            temporary.write_bytes(b'half')
            raise RuntimeError('writer failed')
    assert path.read_bytes() == b'video'
    assert [p.name for p in tmp_path.iterdir()] == ['clip.mp4']
