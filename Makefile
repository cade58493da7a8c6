# upki-ra: a uPKI Registration Authority (FastCGI behind nginx).
#
#   make run    development CA + RA + nginx on loopback, in the foreground
#   make test   unit and integration tests, plain and under ASan + UBSan
#
# Both install the Debian packages they need (tests/deps.sh) when missing.

ifeq ($(origin CC),default)
CC      := gcc
endif
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
PYTHON  ?= /usr/bin/python3

PKGS    := libssl libcrypto json-c sqlite3 libzmq libcurl libcares
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
           -Wstrict-prototypes -Wmissing-prototypes -fstack-protector-strong \
           -D_FORTIFY_SOURCE=2 -Icommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi

ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=address,undefined
endif

COMMON_SRC := $(wildcard common/*.c)
FCGI_SRC   := $(wildcard fcgi/*.c)
DEVCA_SRC  := $(wildcard tests/devca/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
# What the tests, the fuzz harness and the load generator share, and the
# product does not link: JWS signing (tests/support/jws_sign.h).
TSUP_SRC   := $(wildcard tests/support/*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
FCGI_OBJ   := $(FCGI_SRC:%.c=$(BUILD)/%.o)
DEVCA_OBJ  := $(DEVCA_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
TSUP_OBJ   := $(TSUP_SRC:%.c=$(BUILD)/%.o)

LIBUPKI    := $(BUILD)/libupki.a
LIBTSUP    := $(BUILD)/libupki-tests.a
RA_BIN     := $(BUILD)/upki-ra
DEVCA_BIN  := $(BUILD)/upki-devca

.PHONY: all deps deps-run deps-test deps-bench run test check-layers test-unit \
        test-integration test-asan install uninstall clean

all: deps $(RA_BIN) $(DEVCA_BIN)

deps:
	@sh tests/deps.sh build
deps-run:
	@sh tests/deps.sh run
deps-test:
	@sh tests/deps.sh test
deps-bench:
	@sh tests/deps.sh bench

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBUPKI): $(COMMON_OBJ)
	$(AR) rcs $@ $^

$(LIBTSUP): $(TSUP_OBJ)
	$(AR) rcs $@ $^

$(RA_BIN): $(FCGI_OBJ) $(LIBUPKI)
	$(CC) $(LDFLAGS) -o $@ $(FCGI_OBJ) $(LIBUPKI) $(LDLIBS)

$(DEVCA_BIN): $(DEVCA_OBJ) $(LIBUPKI)
	$(CC) $(LDFLAGS) -o $@ $(DEVCA_OBJ) $(LIBUPKI) $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBTSUP) $(LIBUPKI)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/support $(LDFLAGS) -o $@ $< $(LIBTSUP) $(LIBUPKI) $(LDLIBS) -lcmocka

run: deps-run all
	$(PYTHON) tests/stack.py run --build $(BUILD)

# Every test runs twice: against the plain build, and against the sanitizer
# build, where a report aborts the process that made it and the stack's log
# scan fails the test that caused it.  The fuzz targets run too (test-fuzz).
test: deps-test
	$(MAKE) check-layers
	$(MAKE) test-unit
	$(MAKE) test-integration
	$(MAKE) test-asan

# Handlers call modules; only the store speaks SQL and only the CA client
# speaks to the CA (tests/check_layers.sh says what it checks).
check-layers:
	@sh tests/check_layers.sh

test-unit: all $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; UPKI_TEST_BUILD=$(BUILD) $$t; done

test-integration: all
	UPKI_TEST_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test-asan:
	$(MAKE) BUILD=build-asan SAN=1 test-unit test-integration

# -- install ------------------------------------------------------------------
# `make install [PREFIX=/usr/local] [DESTDIR=] [UPKI_RA_PORT=443]
# [UPKI_RA_TLS=true] [SERVER_NAME=_]`; docs/DEPLOY.md walks through what
# it lays down.  Configuration goes to /etc and state to /var whatever
# PREFIX is: that is where nginx and systemd look.
BINDIR        ?= $(PREFIX)/bin
MANDIR        ?= $(PREFIX)/share/man
# Beside the man page; the RA looks for it at BINDIR/../share/upki-ra
# unless UPKI_RA_OPENAPI_FILE says otherwise (fcgi/openapi.c).
SHAREDIR      ?= $(PREFIX)/share/upki-ra
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
# Units go where systemd looks for them and where the administrator does
# not: /lib/systemd/system for PREFIX=/usr (Debian's packaged location),
# PREFIX/lib/systemd/system otherwise (/usr/local/lib/systemd/system is in
# systemd's search path).  /etc/systemd/system stays the administrator's,
# for overrides (systemctl edit) that must win over ours.
ifeq ($(PREFIX),/usr)
UNITDIR       ?= /lib/systemd/system
else
UNITDIR       ?= $(PREFIX)/lib/systemd/system
endif
NGINXDIR      ?= $(SYSCONFDIR)/nginx
CONFDIR       := $(SYSCONFDIR)/upki-ra
RA_DATA_DIR   := $(LOCALSTATEDIR)/lib/upki-ra
# Must match ListenStream= in systemd/upki-ra.socket.
FCGI_SOCKET   := /run/upki-ra/fcgi.sock
UPKI_RA_PORT  ?= 443
UPKI_RA_TLS   ?= true
SERVER_NAME   ?= _
RA_USER       := upki-ra

RA_UNITS      := upki-ra.socket upki-ra.service upki-ra-crl.service upki-ra-crl.timer \
                 upki-ra-nginx-reload.path upki-ra-nginx-reload.service
RA_SITE       := $(NGINXDIR)/sites-available/upki-ra
RA_SNIPPET    := $(NGINXDIR)/snippets/upki-ra-fastcgi.conf
RA_SECRET     := $(NGINXDIR)/snippets/upki-ra-secret.conf
RA_ENV        := $(CONFDIR)/upki-ra.env
RA_TLS_ON     := $(filter 1 true yes on,$(UPKI_RA_TLS))

# Fills the @NAME@ placeholders of nginx/upki-ra.conf.in and systemd/*.in
# ($(1) to stdout); @TLS@ lines are kept only with TLS.
ra_render = sed -e '$(if $(RA_TLS_ON),s|^@TLS@||,/^@TLS@/d)' \
	-e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' \
	-e 's|@DATA_DIR@|$(RA_DATA_DIR)|g' -e 's|@FCGI_SOCKET@|$(FCGI_SOCKET)|g' \
	-e 's|@PARAMS@|$(RA_SNIPPET)|g' -e 's|@SECRET@|$(RA_SECRET)|g' -e 's|@SERVER_NAME@|$(SERVER_NAME)|g' \
	-e 's|@LISTEN@|$(UPKI_RA_PORT)|g' -e 's|@TLS_FLAG@|$(if $(RA_TLS_ON),ssl)|g' \
	-e 's|@RA_PORT@|$(UPKI_RA_PORT)|g' -e 's|@RA_TLS@|$(if $(RA_TLS_ON),true,false)|g' $(1)
# Renders $(1) to $(2) with mode $(3), refusing to leave a placeholder
# outside comments.
ra_install_rendered = $(call ra_render,$(1)) >$(2).tmp && \
	if grep -n '@[A-Z_]*@' $(2).tmp | grep -v '^[0-9]*:[[:space:]]*\#'; then rm -f $(2).tmp; \
	    echo "install: unfilled placeholder in $(1)" >&2; exit 1; fi && \
	chmod $(3) $(2).tmp && mv -f $(2).tmp $(2)

install: all
	umask 022 && install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SHAREDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(NGINXDIR)/sites-available \
	    $(DESTDIR)$(NGINXDIR)/snippets $(DESTDIR)$(CONFDIR)
	install -m 0755 $(RA_BIN) $(DESTDIR)$(BINDIR)/upki-ra
	install -m 0644 man/upki-ra.8 $(DESTDIR)$(MANDIR)/man8/upki-ra.8
	install -m 0644 docs/openapi.yaml $(DESTDIR)$(SHAREDIR)/openapi.yaml
	install -m 0644 nginx/fastcgi-params.conf $(DESTDIR)$(RA_SNIPPET)
	@# The FastCGI secret: made once, kept across installs; root only (nginx
	@# reads it as root, systemd hands it to the service as a credential).
	@if [ -e $(DESTDIR)$(RA_SECRET) ]; then \
	    echo "install: keeping the existing $(DESTDIR)$(RA_SECRET)"; \
	else echo "make the FastCGI secret -> $(DESTDIR)$(RA_SECRET)"; \
	    (umask 077 && printf 'fastcgi_param UPKI_RA_SECRET %s;\n' \
	        "$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >$(DESTDIR)$(RA_SECRET).tmp) && \
	    chmod 0600 $(DESTDIR)$(RA_SECRET).tmp && mv -f $(DESTDIR)$(RA_SECRET).tmp $(DESTDIR)$(RA_SECRET); fi
	@echo "render nginx/upki-ra.conf.in -> $(DESTDIR)$(RA_SITE)"
	@$(call ra_install_rendered,nginx/upki-ra.conf.in,$(DESTDIR)$(RA_SITE),0644)
	@set -e; for u in $(RA_UNITS); do \
	    src=systemd/$$u; [ -f $$src ] || src=$$src.in; \
	    echo "render $$src -> $(DESTDIR)$(UNITDIR)/$$u"; \
	    $(call ra_install_rendered,$$src,$(DESTDIR)$(UNITDIR)/$$u,0644); \
	done
	@# The settings are the administrator's: never overwritten.
	@if [ -e $(DESTDIR)$(RA_ENV) ]; then \
	    echo "install: keeping the existing $(DESTDIR)$(RA_ENV)"; \
	else echo "render systemd/upki-ra.env.in -> $(DESTDIR)$(RA_ENV)"; \
	    $(call ra_install_rendered,systemd/upki-ra.env.in,$(DESTDIR)$(RA_ENV),0640); fi
	@# The data directory.  On this host as root: the system user owns it.
	@# Under DESTDIR: mode only, ownership is the packager's (postinst).
	@set -e; if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	    if ! getent passwd $(RA_USER) >/dev/null; then \
	        echo "install: creating the system user $(RA_USER)"; \
	        if command -v adduser >/dev/null; then \
	            if getent group $(RA_USER) >/dev/null; then g="--ingroup $(RA_USER)"; \
	            else g=--group; fi; \
	            adduser --quiet --system $$g --no-create-home \
	                --home $(RA_DATA_DIR) $(RA_USER); \
	        else \
	            if getent group $(RA_USER) >/dev/null; then g="-g $(RA_USER)"; \
	            else g=--user-group; fi; \
	            useradd --system $$g --no-create-home --home-dir $(RA_DATA_DIR) \
	                --shell /usr/sbin/nologin $(RA_USER); \
	        fi; \
	    fi; \
	    umask 022; install -d $(LOCALSTATEDIR)/lib; \
	    install -d -m 0750 -o $(RA_USER) -g $(RA_USER) $(RA_DATA_DIR); \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	else \
	    umask 022; install -d $(DESTDIR)$(LOCALSTATEDIR)/lib; \
	    install -d -m 0750 $(DESTDIR)$(RA_DATA_DIR); \
	    echo "install: $(DESTDIR)$(RA_DATA_DIR) created with mode 0750 only;" \
	        "its owner ($(RA_USER):$(RA_USER)) is for the packager or root to set"; \
	fi

# Removes what install laid down; never the data directory, the user, the
# seed, or settings edited since install.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v systemctl >/dev/null; then \
	    now=; [ -d /run/systemd/system ] && now=--now; \
	    systemctl disable $$now upki-ra-nginx-reload.path upki-ra-crl.timer \
	        upki-ra.service upki-ra.socket \
	        2>/dev/null || true; \
	fi
	rm -f $(DESTDIR)$(BINDIR)/upki-ra $(DESTDIR)$(MANDIR)/man8/upki-ra.8
	rm -f $(DESTDIR)$(SHAREDIR)/openapi.yaml
	@rmdir $(DESTDIR)$(SHAREDIR) 2>/dev/null || true
	rm -f $(DESTDIR)$(RA_SITE) $(DESTDIR)$(RA_SNIPPET) $(DESTDIR)$(RA_SECRET)
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(RA_UNITS))
	@# An enabled site left pointing at nothing would stop nginx from starting.
	@l=$(DESTDIR)$(NGINXDIR)/sites-enabled/upki-ra; \
	if [ -L $$l ]; then case "$$(readlink $$l)" in \
	    $(RA_SITE)|../sites-available/upki-ra) echo "rm -f $$l"; rm -f $$l;; esac; fi
	@if [ ! -e $(DESTDIR)$(RA_ENV) ]; then :; \
	elif $(call ra_render,systemd/upki-ra.env.in) | cmp -s - $(DESTDIR)$(RA_ENV); then \
	    echo "rm -f $(DESTDIR)$(RA_ENV)"; rm -f $(DESTDIR)$(RA_ENV); \
	else echo "uninstall: keeping $(DESTDIR)$(RA_ENV) (edited since install)"; fi
	@rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null || \
	    { [ ! -d $(DESTDIR)$(CONFDIR) ] || echo "uninstall: keeping $(DESTDIR)$(CONFDIR) (not empty)"; }
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ] && [ "$$(id -u)" -eq 0 ]; then \
	    systemctl daemon-reload; fi
	@echo "uninstall: kept $(DESTDIR)$(RA_DATA_DIR) and the $(RA_USER) user (if any)"

# Leaks that grow with requests: upki-ra serve under valgrind memcheck,
# full ACME issuances through nginx, the lost bytes of 20 and 100 rounds
# compared (tests/soak/leakcheck.py).  Not part of `make test`.
.PHONY: leakcheck
leakcheck: deps-test all
	$(PYTHON) tests/soak/leakcheck.py $(BUILD) 20 100

# Soak (tests/soak/soak.py; not part of `make test`, nor of CI): SOAK_CLIENTS
# (64) ACME clients issue certificates for SOAK_SECONDS (600) against a stack
# of BUILD, and the report gives issuances, 5xx, worker RSS and acme.db size
# at the start and the end.  SOAK_SECONDS=60 SOAK_CLIENTS=16 is the quick mode.
.PHONY: soak
soak: deps-test all
	UPKI_TEST_BUILD=$(BUILD) $(PYTHON) tests/soak/soak.py

clean:
	rm -rf build build-asan

# -- benchmarks: tests/bench, results in docs/PERFORMANCE.md --------------------
# `make bench` runs upki-ra, Pebble and the nginx and FastCGI ceilings side by
# side on loopback and prints one table (BENCH_SECONDS per run, default 10).
BENCH_BIN := $(BUILD)/tests/bench/acmebench $(BUILD)/tests/bench/fcgi204

.PHONY: bench
bench: deps-bench all $(BENCH_BIN)
	$(PYTHON) tests/bench/bench.py --build $(BUILD)

$(BUILD)/tests/bench/%: tests/bench/%.c $(LIBTSUP) $(LIBUPKI)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/support $(LDFLAGS) -o $@ $< $(LIBTSUP) $(LIBUPKI) $(LDLIBS) -lpthread

-include $(COMMON_OBJ:.o=.d) $(FCGI_OBJ:.o=.d) $(DEVCA_OBJ:.o=.d) $(TSUP_OBJ:.o=.d)

# -- fuzz ---------------------------------------------------------------------
# libFuzzer targets (tests/fuzz/README.md), built with clang under ASan and
# UBSan from their own objects of common/ and fcgi/ (not main.c nor
# worker.c: the targets call router_dispatch themselves).
#
#   make fuzz-build                  build $(FUZZ_BUILD)/fuzz_*
#   make fuzz [FUZZ_SECONDS=60]      fuzz each target, keeping what it finds
#   make test-fuzz                   what `make test` runs: regressions, then
#                                    each target for FUZZ_SECONDS (at least
#                                    60), two at a time; any crash fails
#
# FUZZ_TARGETS picks some targets; FUZZ_JOBS how many run at once.

FUZZ_CC      ?= clang-14
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_ALL     := fuzz_jws fuzz_acme_body fuzz_csr fuzz_dn fuzz_router fuzz_ca_reply \
                fuzz_clientcert
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 $(FUZZ_SAN) \
                -Icommon -Ifcgi -Itests/fuzz -Itests/support $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi

FUZZ_LIB_SRC := $(COMMON_SRC) $(filter-out fcgi/main.c fcgi/worker.c,$(FCGI_SRC)) \
                $(TSUP_SRC) tests/fuzz/harness.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_MAIN_OBJ := $(FUZZ_ALL:%=$(FUZZ_BUILD)/tests/fuzz/%.o)
FUZZ_LIB     := $(FUZZ_BUILD)/libupki-fuzz.a
FUZZ_BINS    := $(FUZZ_ALL:%=$(FUZZ_BUILD)/%)

.PHONY: fuzz-build fuzz test-fuzz

# Library objects get coverage instrumentation only; libFuzzer's main is
# linked into the targets.
$(FUZZ_LIB_OBJ): $(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_MAIN_OBJ): $(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BINS): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/tests/fuzz/%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_LIB) $(FUZZ_LDLIBS)

fuzz-build: deps-test
	$(MAKE) $(FUZZ_BINS)

fuzz: fuzz-build
	bash tests/fuzz/run.sh -b $(FUZZ_BUILD) -t $(FUZZ_SECONDS) -j $(FUZZ_JOBS) \
	    -w $(FUZZ_BUILD)/corpus $(FUZZ_TARGETS)

test-fuzz: fuzz-build
	bash tests/fuzz/run.sh -b $(FUZZ_BUILD) \
	    -t $$(( $(FUZZ_SECONDS) < 60 ? 60 : $(FUZZ_SECONDS) )) -j $(FUZZ_JOBS) $(FUZZ_TARGETS)

# `make test` runs the fuzzers too.
test: test-fuzz

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_MAIN_OBJ:.o=.d)
