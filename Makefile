# fastmetro-mm: environment set-up and the commands the README shows.
#
#   make quickstart   the synthetic end-to-end run on CPU (data, training, testing, pictures)
#   make quickstart-hand  the same for the synthetic hand (FreiHAND's layout and protocol)
#   make test         create .venv/ if missing, install the pinned stack, run the tests
#   make env          only the environment
#   make demo-app     the browser demo on the quickstart's model (after make quickstart)
#
# The first run compiles mmcv's ops from source (about 7 minutes on 2 cores); pip caches the
# wheel and later runs reuse .venv/ as long as the requirements files do not change.

PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints.txt
# PyPI's torch/torchvision pair only: a pip.conf that points at a local CPU-only torch wheel
# would otherwise win, and that wheel cannot load PyPI's torchvision.
PIP         := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(VPY) -m pip install \
               --disable-pip-version-check -c $(CONSTRAINTS)
STAMP       := $(VENV)/.fastmetro-installed
REQS        := $(CONSTRAINTS) requirements/build.txt requirements/torch.txt \
               requirements/runtime.txt requirements/render.txt requirements/synthetic.txt \
               requirements/deploy.txt requirements/demo.txt requirements/tests.txt setup.py
PYTEST_ARGS ?=
QUICKSTART_ARGS ?=

.PHONY: env test quickstart quickstart-hand demo-app clean-env offscreen-gl chromium

env: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements/build.txt
	$(PIP) -r requirements/torch.txt
	@echo ">>> mmcv 2.1.0 with compiled ops: built from source on first install (minutes)"
	MMCV_WITH_OPS=1 MAX_JOBS=$$(nproc) $(PIP) --no-build-isolation mmcv
	$(PIP) -r requirements/runtime.txt
	$(PIP) --no-deps mmpose
	$(PIP) -r requirements/render.txt
	$(PIP) --no-deps pyrender
	@$(MAKE) --no-print-directory offscreen-gl
	$(PIP) -r requirements/synthetic.txt
	$(PIP) -r requirements/deploy.txt
	$(PIP) -r requirements/demo.txt
	@$(MAKE) --no-print-directory chromium
	$(PIP) -r requirements/tests.txt
	$(PIP) --no-deps --no-build-isolation -e .
	$(VPY) tools/check_environment.py
	@touch $(STAMP)

test: env
	$(VPY) -m pytest tests $(PYTEST_ARGS)

# Renders the synthetic dataset, trains FastMETRO-S on it, tests it against the mean-pose
# baseline and writes pictures to work_dirs/quickstart (see README).
quickstart: env
	$(VPY) tools/quickstart.py $(QUICKSTART_ARGS)

# The same for the synthetic right hand: FreiHAND's layout, PA-MPJPE, PA-MPVPE, F@5mm and F@15mm
# against the mean-hand baseline, pictures in work_dirs/quickstart_hand (see README).
quickstart-hand: env
	$(VPY) tools/quickstart_hand.py $(QUICKSTART_ARGS)

# pyrender renders offscreen through OSMesa (Debian's libosmesa6). Installed when this runs as root
# with apt available; otherwise the command to run is printed and rendering tests are skipped.
offscreen-gl:
	@if ldconfig -p 2>/dev/null | grep -q libOSMesa; then \
	  echo ">>> offscreen GL: libOSMesa found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q libosmesa6 >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q libosmesa6 >/dev/null; }; \
	else \
	  echo ">>> offscreen GL: libOSMesa not found; install it (Debian/Ubuntu: sudo apt-get install libosmesa6) to render"; \
	fi

# The browser demo (demo/gradio_app.py) with the quickstart's checkpoint and synthetic body;
# DEMO_ARGS adds options, e.g. DEMO_ARGS="--port 8080" or a detector (docs/browser_demo.md).
DEMO_ARGS ?=
demo-app: env
	$(VPY) demo/gradio_app.py $(DEMO_ARGS)

# The browser test drives Debian's chromium through playwright (no browser download). Installed
# when this runs as root with apt available; otherwise the command is printed and the test is
# skipped, saying why.
chromium:
	@if command -v chromium >/dev/null; then \
	  echo ">>> browser test: chromium found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	else \
	  echo ">>> browser test: chromium not found; install it (Debian/Ubuntu: sudo apt-get install chromium chromium-driver) to run it"; \
	fi

clean-env:
	rm -rf $(VENV)
