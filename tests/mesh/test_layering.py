"""The lower layers stay free of the toolbox and of the layers above them (shared/DESIGN.md).

mesh/ (geometry) <- render/ (the offscreen renderer) <- synthetic/ (stand-in models and
datasets): none of them imports mmengine / mmpose / mmcv / mmdet, and each imports only from
the layers below it.
"""
import ast
import subprocess
import sys
from pathlib import Path
from typing import List

import fastmetro_mm.mesh

TOOLBOX = ('mmengine', 'mmpose', 'mmcv', 'mmdet')
PACKAGE_DIR = Path(fastmetro_mm.mesh.__file__).parents[1]
MESH_DIR = PACKAGE_DIR / 'mesh'
RENDER_DIR = PACKAGE_DIR / 'render'
SYNTHETIC_DIR = PACKAGE_DIR / 'synthetic'
#: Layer -> the fastmetro_mm subpackages it must not import (the layers above it).
FORBIDDEN_ABOVE = {
    'mesh': ('render', 'synthetic', 'visualization', 'models', 'datasets', 'evaluation',
             'engine', 'apis', 'deployment'),
    'render': ('synthetic', 'visualization', 'models', 'datasets', 'evaluation', 'engine',
               'apis', 'deployment'),
    'synthetic': ('visualization', 'models', 'datasets', 'evaluation', 'engine', 'apis',
                  'deployment'),
}


def _imported_modules(source: Path) -> List[str]:
    """Absolute names of every module ``source`` imports (relative imports resolved)."""
    package = '.'.join(source.relative_to(PACKAGE_DIR.parent).with_suffix('').parts[:-1])
    names = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ''
            else:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([node.module] if node.module else []))
            names.append(base)
            # `from fastmetro_mm import render` imports a subpackage by name.
            names += [f'{base}.{alias.name}' for alias in node.names]
    return names


def _offenders(layer_dir: Path, forbidden) -> List[str]:
    offenders = []
    for source in sorted(layer_dir.rglob('*.py')):
        offenders += [f'{source.relative_to(PACKAGE_DIR)}: {name}'
                      for name in _imported_modules(source) if forbidden(name)]
    return sorted(set(offenders))


def _run_blocked(statements: str) -> subprocess.CompletedProcess:
    """Runs ``statements`` in a fresh interpreter in which the toolbox cannot be imported."""
    blocked = '; '.join(f"sys.modules['{name}'] = None" for name in TOOLBOX)
    return subprocess.run([sys.executable, '-c', f'import sys; {blocked}; {statements}'],
                          capture_output=True, text=True, timeout=300)


def test_mesh_sources_import_no_toolbox():
    offenders = _offenders(MESH_DIR, lambda name: name.split('.')[0] in TOOLBOX)
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


def test_render_and_synthetic_sources_import_no_toolbox():
    for layer_dir in (RENDER_DIR, SYNTHETIC_DIR):
        offenders = _offenders(layer_dir, lambda name: name.split('.')[0] in TOOLBOX)
        assert offenders == [], layer_dir.name


def test_each_layer_imports_nothing_from_the_layers_above():
    for layer, above in FORBIDDEN_ABOVE.items():
        forbidden = tuple(f'fastmetro_mm.{name}' for name in above)
        offenders = _offenders(PACKAGE_DIR / layer, lambda name: any(
            name == f or name.startswith(f + '.') for f in forbidden))
        assert offenders == [], layer


def test_render_and_synthetic_import_without_the_toolbox():
    # pyrender (and with it PyOpenGL) is imported only when a renderer is made.
    result = _run_blocked(
        'import fastmetro_mm.render as render; import fastmetro_mm.synthetic as synthetic; '
        'assert "pyrender" not in sys.modules and "OpenGL" not in sys.modules; '
        'print(len(render.__all__), len(synthetic.__all__))')
    assert result.returncode == 0, result.stderr
    num_render, num_synthetic = map(int, result.stdout.split())
    assert num_render >= 5 and num_synthetic >= 8


def test_mesh_core_loads_neither_render_nor_synthetic():
    result = _run_blocked(
        'import fastmetro_mm.mesh; '
        'print(sorted(m for m in sys.modules if m.startswith(("fastmetro_mm.render", '
        '"fastmetro_mm.synthetic", "pyrender", "OpenGL", "skimage"))))')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
