"""fastmetro-mm: FastMETRO (ECCV 2022) as a plugin for MMPose 1.x.

Importing the package registers its components in MMPose's registries, so a config with
``custom_imports=dict(imports=['fastmetro_mm'])`` and ``default_scope='mmpose'`` can build them.
The geometry core, :mod:`fastmetro_mm.mesh`, needs only torch, numpy, scipy and smplx: without
MMPose installed the package still imports, and only the registration is unavailable.
"""
import warnings

from .version import __version__

# Importing mmpose.apis (as this package and MMPose's visualizers do) makes mmengine's
# get_installed_path import pkg_resources, which setuptools >= 80 marks deprecated; that one
# warning from that one caller says nothing a user can act on, so only it is hidden.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated as an API',
                        category=UserWarning, module='mmengine.utils.package_utils')

try:
    import mmpose  # noqa: F401
except ModuleNotFoundError as exc:  # only a missing toolbox is tolerated, never a broken one
    if exc.name not in ('mmpose', 'mmengine', 'mmcv'):
        raise
    REGISTERED_MODELS: tuple = ()
    REGISTERED_TRANSFORMS: tuple = ()
    REGISTERED_DATASETS: tuple = ()
    REGISTERED_SAMPLERS: tuple = ()
    REGISTERED_METRICS: tuple = ()
    REGISTERED_HOOKS: tuple = ()
    REGISTERED_OPTIM_WRAPPERS: tuple = ()
    REGISTERED_VISUALIZERS: tuple = ()
else:
    from .engine import REGISTERED_HOOKS, REGISTERED_OPTIM_WRAPPERS, allow_mmengine_checkpoints

    allow_mmengine_checkpoints()

    # Each import registers its components into mmpose.registry.
    from . import datasets, evaluation, models, visualization  # noqa: F401
    from .datasets import REGISTERED_DATASETS, REGISTERED_SAMPLERS, REGISTERED_TRANSFORMS
    from .evaluation import REGISTERED_METRICS
    from .models import REGISTERED_MODELS
    from .visualization import REGISTERED_VISUALIZERS

#: mmpose.registry attribute -> the names this package registers there (one table for
#: tools/check_environment.py and the registration tests).
REGISTERED_NAMES = {
    'MODELS': REGISTERED_MODELS,
    'TRANSFORMS': REGISTERED_TRANSFORMS,
    'DATASETS': REGISTERED_DATASETS,
    'DATA_SAMPLERS': REGISTERED_SAMPLERS,
    'METRICS': REGISTERED_METRICS,
    'HOOKS': REGISTERED_HOOKS,
    'VISUALIZERS': REGISTERED_VISUALIZERS,
    'OPTIM_WRAPPERS': REGISTERED_OPTIM_WRAPPERS,
}

__all__ = ['__version__', 'REGISTERED_NAMES', 'REGISTERED_MODELS', 'REGISTERED_TRANSFORMS',
           'REGISTERED_METRICS', 'REGISTERED_DATASETS', 'REGISTERED_SAMPLERS',
           'REGISTERED_HOOKS', 'REGISTERED_OPTIM_WRAPPERS', 'REGISTERED_VISUALIZERS']
