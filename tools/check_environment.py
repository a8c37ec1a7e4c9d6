"""Checks that the installed OpenMMLab stack imports together; prints the versions.

Run by `make env` after installing; exits non-zero with the reason when something is off,
so a broken environment fails at set-up rather than deep inside a test.
"""
import importlib
import shutil
import sys


def _check(label: str, statement) -> str:
    try:
        return statement()
    except Exception as exc:  # report every failure with its cause, then stop
        print(f'[check_environment] {label}: FAILED: {type(exc).__name__}: {exc}', file=sys.stderr)
        sys.exit(1)


def main() -> None:
    import numpy
    import torch
    import torchvision

    def torchvision_ops():
        # fails when torchvision was built against a different torch (CPU-only vs CUDA build)
        boxes = torch.tensor([[0., 0., 1., 1.]])
        torchvision.ops.nms(boxes, torch.tensor([1.0]), 0.5)
        return torchvision.__version__

    def mmcv_ops():
        importlib.import_module('mmcv._ext')
        import mmcv
        return mmcv.__version__

    def module_version(name):
        return lambda: importlib.import_module(name).__version__

    def mmpose_models():
        importlib.import_module('mmpose.models')
        return module_version('mmpose')()

    def plugin():
        import fastmetro_mm
        import mmpose.registry
        for registry_name, names in fastmetro_mm.REGISTERED_NAMES.items():
            registry = getattr(mmpose.registry, registry_name)
            missing = [name for name in names if name not in registry]
            if missing:
                raise RuntimeError(f'not registered in mmpose.registry.{registry.name}: {missing}')
        return fastmetro_mm.__version__

    if int(numpy.__version__.split('.')[0]) >= 2:
        print(f'[check_environment] numpy {numpy.__version__}: xtcocotools needs numpy < 2',
              file=sys.stderr)
        sys.exit(1)
    rows = [
        ('python', sys.version.split()[0]),
        ('torch', torch.__version__),
        ('torchvision', _check('torchvision ops', torchvision_ops)),
        ('numpy', numpy.__version__),
        ('mmcv (with ops)', _check('mmcv._ext', mmcv_ops)),
        ('mmengine', _check('mmengine', module_version('mmengine'))),
        ('mmdet', _check('mmdet', module_version('mmdet'))),
        ('mmpose', _check('mmpose.models', mmpose_models)),
        ('smplx', _check('smplx', lambda: importlib.metadata.version('smplx'))),
        ('onnxruntime', _check('onnxruntime', module_version('onnxruntime'))),
        ('gradio', _check('gradio', lambda: importlib.metadata.version('gradio'))),
        ('playwright', _check('playwright', lambda: importlib.metadata.version('playwright'))),
        # Not required: without it the browser test is skipped, saying why.
        ('chromium', shutil.which('chromium') or 'not found (browser test skipped)'),
        ('fastmetro_mm', _check('fastmetro_mm registration', plugin)),
        ('cuda available', str(torch.cuda.is_available())),
    ]
    for name, version in rows:
        print(f'  {name:<16} {version}')


if __name__ == '__main__':
    import importlib.metadata  # noqa: F401  (used in a lambda above)
    main()
