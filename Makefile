# Two commands: `make run` (install, migrate, deploy, demo data, serve) and `make test`.
VENV     := .venv
PYTHON   := $(VENV)/bin/python
KAOHE    := $(VENV)/bin/kaohe
PY_STAMP := $(VENV)/.installed
JS_STAMP := node_modules/.installed
VENDOR   := web/static/vendor
HOST     ?= 127.0.0.1
PORT     ?= 5000

.PHONY: install run test test-postgres bench browser clean

$(PY_STAMP): setup.cfg pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

$(JS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# bpmn-js, dmn-js and Swagger UI (the API docs page) come from npm; the app serves the copies under web/static/vendor (not in git).
$(VENDOR)/.copied: $(JS_STAMP)
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp -r node_modules/bpmn-js/dist $(VENDOR)/bpmn-js
	cp -r node_modules/dmn-js/dist $(VENDOR)/dmn-js
	mkdir -p $(VENDOR)/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	touch $@

install: $(PY_STAMP) $(VENDOR)/.copied

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser),
# and a CJK font so pages and screenshots show Chinese instead of boxes.
browser:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	  dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing="$$missing fonts-wqy-microhei"; \
	  if [ -n "$$missing" ]; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  fi

run: install
	$(KAOHE) init
	$(KAOHE) demo
	$(KAOHE) serve --host $(HOST) --port $(PORT)

test: install browser
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-postgres: install browser
	KAOHE_TEST_DATABASE_URL=$${KAOHE_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	  $(PYTHON) -m pytest $(PYTEST_ARGS)

# locust (bench/http_load.py's load generator) is only needed here: the `bench` extras.
bench: install
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	$(PYTHON) bench/engine_overhead.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) instance
