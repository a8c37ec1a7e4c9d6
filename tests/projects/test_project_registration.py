"""Each project package registers the names its REGISTERED_* tuples list, in MMPose's
registries, and nothing it lists is missing."""
import importlib

import pytest

import projects_helpers  # noqa: F401  (puts the repository root on sys.path)

PACKAGES = ['projects.metro_baseline.metro_baseline',
            'projects.pose2d_and_mesh.pose2d_and_mesh']


@pytest.mark.parametrize('package', PACKAGES)
def test_registered_names(package):
    import fastmetro_mm  # noqa: F401
    from mmpose.registry import METRICS, MODELS, TRANSFORMS

    module = importlib.import_module(package)
    registries = {'REGISTERED_MODELS': MODELS, 'REGISTERED_TRANSFORMS': TRANSFORMS,
                  'REGISTERED_METRICS': METRICS}
    listed = [name for attr in registries for name in getattr(module, attr, ())]
    assert listed, package
    for attr, registry in registries.items():
        for name in getattr(module, attr, ()):
            assert registry.get(name) is not None, (package, attr, name)
