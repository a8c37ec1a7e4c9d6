"""fastmetro-mm: FastMETRO (ECCV 2022) as a plugin for MMPose 1.x."""
from setuptools import find_packages, setup


def requirements(name: str) -> list:
    """The package names of requirements/{name}.txt (versions: requirements/constraints.txt)."""
    with open(f'requirements/{name}.txt') as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


setup(
    name='fastmetro_mm',
    version=open('fastmetro_mm/version.py').read().split("'")[1],
    description='FastMETRO 3D human body and hand mesh recovery as an MMPose 1.x plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.9',
    packages=find_packages(include=['fastmetro_mm', 'fastmetro_mm.*']),
    # The OpenMMLab stack cannot be resolved by pip alone (mmcv is compiled against the
    # installed torch, mmpose needs --no-deps): `make env` installs it from requirements/.
    install_requires=[],
    # Only the synthetic generator (fastmetro_mm.synthetic) needs these: `pip install
    # -e .[synthetic]`. Rendering also needs pyrender, installed with --no-deps (see
    # requirements/constraints.txt), and the packages of requirements/render.txt.
    # ONNX export and ONNX Runtime inference (fastmetro_mm.deployment): `.[deploy]`.
    extras_require={'synthetic': requirements('synthetic'), 'deploy': requirements('deploy')},
    zip_safe=False,
)
