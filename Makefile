# M5SER: `make demo` builds the mini recipe end to end; `make test` runs the test suite.
# Both install what is missing first (Debian packages, then a .venv in the repo root); the demo
# also installs what the README's load_dataset example needs to decode audio (`audio` extra).
SHELL := /bin/bash
PY     := .venv/bin/python
PIP    := .venv/bin/pip
RECIPE ?= manifests/recipes/mini.yaml
TRAIN_RECIPE ?= manifests/recipes/train-crossed.yaml
TRAIN_CONFIG ?= manifests/train/stage1.yaml
TORCH  := torch==2.14.1
TORCH_CPU := torch==2.13.0
export PYTHONHASHSEED := 0
PREFECT_PORT ?= 4200
# Prefect keeps its state (SQLite database, profiles) in the repo's .prefect/ (git-ignored) and
# sends no telemetry (there is no network).
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo train xtts test shards build validate report quality install install-audio install-quality install-text install-test engines clean serve

.venv/bin/python:
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip

.stamp-system: scripts/install-system.sh
	bash scripts/install-system.sh
	touch $@

.venv/.stamp-core: pyproject.toml .venv/bin/python .stamp-system
	$(PIP) install -q -e .
	touch $@

# torch first (the build that lies on disk), so nothing else can pull another one.
.venv/.stamp-test: pyproject.toml .venv/.stamp-core scripts/install-engines.sh
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[hf,tts,train,dask,test,quality,text,llm,hub,export]"
	$(PIP) install -q --no-deps Resemblyzer==0.1.4
	PYTHON=$(PY) bash scripts/install-engines.sh
	touch $@

# Decoding the built shards with `datasets` (the README's load_dataset example): torchcodec, in the
# release built for the venv's torch. A venv without torch gets the light pair, the CPU torch on
# disk first and then the `audio` extra (torchcodec 0.13); one with make test's torch 2.14.1 gets
# the `hf` extra (torchcodec 0.17) and so stays as it is.
.venv/.stamp-audio: pyproject.toml .venv/.stamp-core
	@torch=$$($(PY) -c 'import torch; print(torch.__version__)' 2>/dev/null || true); \
	case "$$torch" in \
	  "")     set -x; $(PIP) install -q "$(TORCH_CPU)" && $(PIP) install -q -e ".[audio]" ;; \
	  2.13.*) set -x; $(PIP) install -q -e ".[audio]" ;; \
	  *)      set -x; $(PIP) install -q "$(TORCH)" && $(PIP) install -q -e ".[hf]" ;; \
	esac
	touch $@

# XTTS-v2 lives in its own environment (coqui-tts needs torchaudio, hence torch 2.9.1).
.venv-xtts/.stamp-xtts: scripts/install-xtts.sh
	bash scripts/install-xtts.sh
	touch $@
xtts: .venv-xtts/.stamp-xtts

install: .venv/.stamp-core
install-audio: .venv/.stamp-audio
install-test: .venv/.stamp-test
engines: .venv/.stamp-core
	PYTHON=$(PY) bash scripts/install-engines.sh

# The quality checks (after the audio extra, so torch is already there and stays).
.venv/.stamp-quality: pyproject.toml .venv/.stamp-core .venv/.stamp-audio
	$(PIP) install -q -e ".[quality]"
	$(PIP) install -q --no-deps Resemblyzer==0.1.4
	touch $@
install-quality: .venv/.stamp-quality

# The text checks of the demo recipe (language ID, adequacy, normalization): no torch.
.venv/.stamp-text: pyproject.toml .venv/.stamp-core
	$(PIP) install -q -e ".[text]"
	touch $@
install-text: .venv/.stamp-text

demo: install install-audio install-quality install-text
	$(PY) -m m5ser.cli build $(RECIPE)

build: demo

# LANG is also the locale variable: only a LANG given on the make command line names a language.
shards: install
	@test "$(origin LANG)" = "command line" || (echo "usage: make shards LANG=de [RECIPE=...]"; exit 2)
	LANG=C.UTF-8 $(PY) -m m5ser.cli shards $(RECIPE) --lang $(LANG)

# A local Prefect server (SQLite in .prefect/, loopback only) plus the serve process of the
# deployment build-m5ser/default; Ctrl-C stops both. UI: http://127.0.0.1:$(PREFECT_PORT)
# In another shell: .venv/bin/prefect deployment run build-m5ser/default -p recipe=$(RECIPE)
serve: install
	@export PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api; \
	$(PY) -m prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) & server=$$!; \
	trap 'kill $$server' EXIT INT TERM; \
	until $(PY) -c "import httpx, sys; httpx.get(sys.argv[1]).raise_for_status()" $$PREFECT_API_URL/health 2>/dev/null; \
	do sleep 1; done; \
	$(PY) -m flows.serve --recipe $(RECIPE)

validate: install
	$(PY) -m m5ser.cli validate $(RECIPE)

report: install
	$(PY) -m m5ser.cli report $(RECIPE)

# Stage 1 on the offline stack: build the training recipe (resumes), train, evaluate, report.
train: install-test
	$(PY) -m m5ser.cli build $(TRAIN_RECIPE)
	$(PY) -m m5ser.cli train stage1 --config $(TRAIN_CONFIG)

# Stage 2 (Whisper base -> Q-Former -> Gemma 3 270M + LoRA) on the same build; models from the store.
STAGE2_CONFIG ?= manifests/train/stage2.yaml
.PHONY: train-stage2
train-stage2: install-test
	$(PY) -m m5ser.cli build $(TRAIN_RECIPE)
	$(PY) -m m5ser.cli train stage2 --config $(STAGE2_CONFIG)

test: install-test
	$(PY) -m pytest -q

# Lint, format, and the import rules of pyproject.toml's [tool.importlinter].
quality: install-test
	.venv/bin/ruff check m5ser tests flows bench scripts
	.venv/bin/ruff format --check m5ser tests flows bench scripts
	.venv/bin/lint-imports

clean:
	rm -rf out
