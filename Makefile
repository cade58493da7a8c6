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

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
FCGI_OBJ   := $(FCGI_SRC:%.c=$(BUILD)/%.o)
DEVCA_OBJ  := $(DEVCA_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

LIBUPKI    := $(BUILD)/libupki.a
RA_BIN     := $(BUILD)/upki-ra
DEVCA_BIN  := $(BUILD)/upki-devca

.PHONY: all deps deps-run deps-test run test test-unit test-integration \
        test-asan install uninstall clean

all: deps $(RA_BIN) $(DEVCA_BIN)

deps:
	@sh tests/deps.sh build
deps-run:
	@sh tests/deps.sh run
deps-test:
	@sh tests/deps.sh test

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBUPKI): $(COMMON_OBJ)
	$(AR) rcs $@ $^

$(RA_BIN): $(FCGI_OBJ) $(LIBUPKI)
	$(CC) $(LDFLAGS) -o $@ $(FCGI_OBJ) $(LIBUPKI) $(LDLIBS)

$(DEVCA_BIN): $(DEVCA_OBJ) $(LIBUPKI)
	$(CC) $(LDFLAGS) -o $@ $(DEVCA_OBJ) $(LIBUPKI) $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBUPKI)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBUPKI) $(LDLIBS) -lcmocka

run: deps-run all
	$(PYTHON) tests/stack.py run --build $(BUILD)

# The unit tests run plain and under the sanitizers; the integration suite
# runs against the sanitizer build, where a report aborts the process and
# the test that caused it fails.
test: deps-test
	$(MAKE) test-unit
	$(MAKE) test-asan

test-unit: all $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; UPKI_TEST_BUILD=$(BUILD) $$t; done

test-integration: all
	UPKI_TEST_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test-asan:
	$(MAKE) BUILD=build-asan SAN=1 test-unit test-integration

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(RA_BIN) $(DESTDIR)$(PREFIX)/bin/upki-ra

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/upki-ra

clean:
	rm -rf build build-asan

-include $(COMMON_OBJ:.o=.d) $(FCGI_OBJ:.o=.d) $(DEVCA_OBJ:.o=.d)
