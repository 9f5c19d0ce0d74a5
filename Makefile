# The two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test peers bench schema lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)  ## serve stubs/ on 127.0.0.1:8080 (admin API on 127.0.0.1:8081)
	$(BIN)/stuntman run --stubs stubs --port 8080 --admin-port 8081

# Two workers (pytest-xdist; the machines this runs on have two cores): every test starts its
# servers on free ports and keeps its files in its own tmp_path, so they run side by side.
test: $(STAMP) peers  ## the whole suite
	$(BIN)/python -m pytest -q -n 2

# what the suite needs beyond pip: nginx, the reference HTTP/1 server some tests compare against;
# Prism (npm, into .peers/, pinned: the tests assert its answers), the reference OpenAPI mock
PEERS         := .peers
PRISM_VERSION := 5.14.2
peers:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ]; then echo "# installing nginx-light (a reference for the tests)"; \
	    apt-get install -y -qq nginx-light >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }; \
	  else echo "make test needs nginx: sudo apt-get install nginx-light" >&2; exit 1; fi; }
	@test -f $(PEERS)/.prism-$(PRISM_VERSION) || { \
	  command -v npm >/dev/null || { \
	    if [ "$$(id -u)" = 0 ]; then echo "# installing nodejs and npm (to run Prism)"; \
	      apt-get install -y -qq nodejs npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }; \
	    else echo "make test needs npm: sudo apt-get install nodejs npm" >&2; exit 1; fi; }; \
	  echo "# installing Prism $(PRISM_VERSION) into $(PEERS)/ (the reference OpenAPI mock tests/test_openapi_prism.py compares against)"; \
	  npm install --prefix $(PEERS) --no-audit --no-fund --loglevel=error @stoplight/prism-cli@$(PRISM_VERSION) >/dev/null \
	    && touch $(PEERS)/.prism-$(PRISM_VERSION); }

bench: $(STAMP)  ## wrk: stuntman vs nginx vs direct, CPU µs/request and ratios (installs wrk/nginx if missing)
	bench/run.sh

lint: $(STAMP)  ## ruff, mypy, import-linter (config: pyproject.toml); hadolint docker/Dockerfile; check docker/compose.yaml and docker/k8s/ (tools come with the test extra)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint docker/Dockerfile
	cd docker && STUNTMAN_ADMIN_TOKEN=lint ../$(BIN)/docker-compose --profile record config --quiet
	$(BIN)/kubernetes-validate --strict --quiet docker/k8s/*.yaml

schema: $(STAMP)  ## regenerate the committed stubs.schema.json and recordings.schema.json
	$(BIN)/stuntman schema > stubs.schema.json
	$(BIN)/stuntman schema --recording > recordings.schema.json

clean:
	rm -rf $(VENV) build *.egg-info proxy/*.egg-info .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
