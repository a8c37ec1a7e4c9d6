"""Former place of the official-checkpoint converter, kept because users and older docs name it.

It runs ``tools/model_converters/fastmetro_official_to_mmpose.py`` with the same arguments::

    python tools/convert_official_checkpoint.py SRC.bin OUT.pth --config CONFIG [--overwrite]
"""
import runpy
from pathlib import Path

if __name__ == '__main__':
    runpy.run_path(str(Path(__file__).resolve().parent / 'model_converters' /
                       'fastmetro_official_to_mmpose.py'), run_name='__main__')
