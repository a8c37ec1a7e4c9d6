"""tools/build_mesh_hierarchy.py on a mesh file: counts printed, file readable, no overwrite."""
import subprocess
import sys
from pathlib import Path

import trimesh

from fastmetro_mm.mesh import MeshHierarchy

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'build_mesh_hierarchy.py'


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_builds_and_saves_from_an_obj(tmp_path):
    mesh_file = tmp_path / 'sphere.obj'
    trimesh.creation.icosphere(subdivisions=3).export(mesh_file)  # 642 vertices
    out = tmp_path / 'sphere_downsampling.npz'
    result = _run(mesh_file, '--factors', '4', '4', '--out', out)
    assert result.returncode == 0, result.stderr
    assert '642 vertices' in result.stdout and '161 vertices' in result.stdout
    assert '41 vertices' in result.stdout
    assert MeshHierarchy.from_npz(out).vertex_counts == (642, 161, 41)

    again = _run(mesh_file, '--out', out)
    assert again.returncode != 0 and 'exists' in (again.stderr + again.stdout)
