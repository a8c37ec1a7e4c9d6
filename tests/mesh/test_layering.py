"""The geometry core stays free of the toolbox (shared/DESIGN.md)."""
import ast
import subprocess
import sys
from pathlib import Path

import fastmetro_mm.mesh

TOOLBOX = ('mmengine', 'mmpose', 'mmcv', 'mmdet')
MESH_DIR = Path(fastmetro_mm.mesh.__file__).parent


def test_mesh_sources_import_no_toolbox():
    offenders = []
    for source in sorted(MESH_DIR.rglob('*.py')):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or '']
            else:
                continue
            offenders += [f'{source.name}: {name}' for name in names
                          if name.split('.')[0] in TOOLBOX]
    assert offenders == []


def test_mesh_core_imports_without_the_toolbox():
    blocked = '; '.join(f"sys.modules['{name}'] = None" for name in TOOLBOX)
    code = (f'import sys; {blocked}; import fastmetro_mm.mesh as mesh; '
            'import fastmetro_mm; assert fastmetro_mm.REGISTERED_MODELS == (); '
            'print(len(mesh.__all__))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 20
