"""fastmetro-mm: FastMETRO (ECCV 2022) as a plugin for MMPose 1.x."""
from setuptools import find_packages, setup

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
    zip_safe=False,
)
