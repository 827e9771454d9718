# CVC gateway: build, run and test harness.
#
#   make              build build/ngx_http_cvc_module.so
#   make SANITIZE=1   same with ASan/UBSan, in build/asan/
#   make run / stop   dev stack in .run/ (nginx + PostgreSQL + Redis)
#   make test         the unit tests, then the full test suite in a throw-away
#                     stack (T=t/010-x.t to narrow)
#   make unit         the C unit tests of unit/ alone (TAP, through prove)
#   make SANITIZE=1 test   the same on the ASan/UBSan build (CI: the money
#                     and parser tests, SANITIZE_TESTS)
#   make deps         install the Debian packages we need
#   make web          build the web front end into web/dist (plain ES modules)
#   make bench        the hot endpoints under wrk, beside pgbench and nginx
#                     alone; the table goes to docs/performance.md
#   make chaos        a bank run under faults (PostgreSQL and Redis killed,
#                     workers killed, reloads) and its invariants (t/chaos/run)
#   make fuzz         the libFuzzer harnesses of fuzz/, FUZZ_TIME s each (60)
#   make deb          the Debian package in build/deb/ (dpkg-buildpackage)
#   make clean

SHELL := /bin/bash
.DEFAULT_GOAL := all

NGINX_SRC ?= /usr/share/nginx/src

# Debian's hardening flags (as in `nginx -V`); CVC_CFLAGS / CVC_LDFLAGS add more.
# nginx's configure adds its own gcc warnings (-W -Wall ... -Werror) itself.
DEB_CC_OPT := -g -O2 -fstack-protector-strong -Wformat -Werror=format-security \
              -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
DEB_LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC
CVC_CFLAGS ?=
CVC_LDFLAGS ?=

ifeq ($(SANITIZE),1)
  BUILD   := build/asan
  SAN_OPT := -fsanitize=address,undefined -fno-omit-frame-pointer
else
  SANITIZE :=
  BUILD   := build
  SAN_OPT :=
endif

CC_OPT := $(strip $(DEB_CC_OPT) $(SAN_OPT) $(CVC_CFLAGS))
LD_OPT := $(strip $(DEB_LD_OPT) $(SAN_OPT) $(CVC_LDFLAGS))

SRC     := $(BUILD)/nginx-src
MODULE  := $(BUILD)/ngx_http_cvc_module.so
MOD_SRC := $(wildcard ngx_cvc_module/*)

# Dev stack settings (scripts/stack reads them from the environment).
RUN_DIR        := .run
CVC_PORT       ?= 8080
CVC_PG_PORT    ?= 55432
CVC_REDIS_PORT ?= 56379
CVC_SMTP_PORT  ?= 52525
export CVC_PORT CVC_PG_PORT CVC_REDIS_PORT CVC_SMTP_PORT SANITIZE

PACKAGES := nginx nginx-dev libhiredis-dev libpq-dev libjansson-dev libssl-dev \
            postgresql redis-server libxlsxwriter-dev libcurl4-openssl-dev \
            python3-aiosmtpd python3-prometheus-client gcc libc6-dev make perl \
            curl procps openssl

# make bench's load generators (pgbench comes with postgresql)
BENCH_PACKAGES := wrk

.PHONY: all deps web web-deps run stop test unit print-sanitize-tests bench \
        bench-deps chaos fuzz fuzz-deps deb deb-deps clean FORCE

all: $(MODULE)

# $(call apt_missing,packages): installs those that are missing; apt-get
# update only when there is something to install
define apt_missing
	@missing=""; \
	for p in $(1); do \
	  dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

# Install only what is missing; apt-get update only when needed.
deps:
	$(call apt_missing,$(PACKAGES))
	@# the web front end: node/npm (any Node >= 18; only when missing) and
	@# Debian's chromium for its browser tests
	@missing=""; \
	node --version >/dev/null 2>&1 || missing="$$missing nodejs"; \
	npm --version >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q $$missing; \
	fi

# The web front end: web/src copied to web/dist when a source changes.
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/build.mjs
web: web/dist/index.html

web/dist/index.html: $(WEB_SRC)
	node web/build.mjs

# playwright-core (the browser tests' driver), from web/package-lock.json
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A private copy of Debian's nginx source tree: configure writes objs/ into it.
$(SRC)/configure:
	rm -rf $(SRC) && mkdir -p $(dir $(SRC))
	cp -a $(NGINX_SRC) $(SRC)

# The configure inputs that are not files (flags, list of module files);
# rewritten only when they change, so that a change re-runs configure.
$(BUILD)/configure.args: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' 'cc: $(CC_OPT)' 'ld: $(LD_OPT)' $(MOD_SRC) > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(SRC)/objs/Makefile: $(SRC)/configure config $(BUILD)/configure.args
	cd $(SRC) && source ./conf_flags && \
	  env -u CFLAGS -u LDFLAGS ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(CC_OPT)' --with-ld-opt='$(LD_OPT)' \
	    --add-dynamic-module=$(CURDIR)
	@# nginx adds -Werror only when CFLAGS is unset; make sure it did.
	@grep '^CFLAGS' $@ | grep -q -- '-Werror' || \
	  { echo "objs/Makefile: CFLAGS lack -Werror" >&2; rm -f $@; exit 1; }

# nginx's Makefile does not know our headers: drop the module's objects so
# that any change under ngx_cvc_module/ recompiles all of it.
$(MODULE): $(SRC)/objs/Makefile $(MOD_SRC)
	find $(SRC)/objs/addon -name '*.o' -delete 2>/dev/null || true
	$(MAKE) -C $(SRC) -f objs/Makefile modules
	@# copy + rename: never rewrite a .so that a running nginx has mapped
	cp $(SRC)/objs/ngx_http_cvc_module.so $@.tmp && mv -f $@.tmp $@
	@echo "built $@"

# Dev stack in .run/. Safe to run twice: services stay up, nginx reloads.
run: deps all web
	@mkdir -p $(RUN_DIR)
	@if [ -n "$$CVC_OPS_TOKEN" ]; then token="$$CVC_OPS_TOKEN"; \
	 else [ -s $(RUN_DIR)/ops_token ] || openssl rand -hex 32 > $(RUN_DIR)/ops_token; \
	      token=$$(cat $(RUN_DIR)/ops_token); fi; \
	 CVC_OPS_TOKEN=$$token CVC_WORKERS=$${CVC_WORKERS:-2} \
	 CVC_CONF=$${CVC_CONF:-conf/dev.conf} CVC_MODULE=$(MODULE) \
	   scripts/stack start $(RUN_DIR) && \
	 echo && echo "CVC gateway: http://127.0.0.1:$(CVC_PORT)" && \
	 echo "ops token:   $$token" && \
	 echo "e-mails:     $(CURDIR)/$(RUN_DIR)/mail (one file per message)" && \
	 if [ -x scripts/demo-data ]; then \
	   CVC_URL=http://127.0.0.1:$(CVC_PORT) CVC_OPS_TOKEN=$$token scripts/demo-data $(RUN_DIR); \
	 fi

stop:
	scripts/stack stop $(RUN_DIR)

# the unit tests first: they fail in seconds what the suite would in minutes
test: deps all web web-deps unit
	CVC_MODULE=$(MODULE) scripts/run-tests $(T)

# nginx's headers (the fuzzers' and the unit tests')
NGX_INCS := $(addprefix -I $(SRC)/,src/core src/event src/event/modules \
              src/os/unix objs src/http src/http/modules src/http/v2)
CVC_LIBS := -lpq -lhiredis -ljansson -lxlsxwriter -lcurl -lcrypto

# C unit tests of the module's pure code (unit/README.md), with gcc: each
# unit/NAME.c is a TAP program, build/unit/NAME, that prove runs. They
# link the module's objects of nginx's build (those of the .so, made with
# SANITIZE's flags too) and Debian's nginx made a library (fuzz/libngx); a
# test that includes a module file (for its static functions) takes that
# file's place in the link. -fPIC, as for the fuzzers: nginx's variables
# (ngx_cycle, the top filters) are then the library's, not copies of the
# program's that nginx's code never reads. UNIT_PROVE: prove's flags.
UNIT_DIR     := $(BUILD)/unit
UNIT_NAMES   := $(filter-out ngx_unit ngx_unit_tap,\
                  $(basename $(notdir $(wildcard unit/*.c))))
UNIT_BINS    := $(addprefix $(UNIT_DIR)/,$(UNIT_NAMES))
UNIT_SUPPORT := $(UNIT_DIR)/ngx_unit.o $(UNIT_DIR)/ngx_unit_tap.o
UNIT_CFLAGS  := -g -O1 -fPIC -W -Wall -Wpointer-arith -Wno-unused-parameter \
                -Werror $(SAN_OPT) $(NGX_INCS) -I ngx_cvc_module \
                -I /usr/include/postgresql -I unit
UNIT_PROVE   ?= -v

unit: $(UNIT_BINS)
	prove $(UNIT_PROVE) $(UNIT_BINS)

$(UNIT_DIR)/libcvc.a: $(MODULE)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $(SRC)/objs/addon/ngx_cvc_module/*.o

$(addsuffix .o,$(UNIT_BINS)) $(UNIT_SUPPORT): $(UNIT_DIR)/%.o: \
        unit/%.c unit/ngx_unit.h $(MOD_SRC) $(SRC)/objs/Makefile Makefile
	@mkdir -p $(dir $@)
	gcc -c $(UNIT_CFLAGS) -o $@ $<

$(UNIT_BINS): %: %.o $(UNIT_SUPPORT) $(UNIT_DIR)/libcvc.a \
              $(UNIT_DIR)/libngx.so
	gcc $(SAN_OPT) -o $@ $(filter %.o %.a,$^) -L $(UNIT_DIR) -l:libngx.so \
	  -Wl,-rpath,'$$ORIGIN' $(CVC_LIBS)

# What CI runs under SANITIZE=1 (.ci/run): the money paths and the parsers
SANITIZE_TESTS := t/020-router.t t/200-payment-request-create.t \
                  t/230-customer-pay.t t/240-confirm-cancel.t \
                  t/270-concurrency.t t/280-ledger.t t/316-mail-addresses.t \
                  t/321-webhook-destinations.t

print-sanitize-tests:
	@echo $(SANITIZE_TESTS)

# The stack's packages and wrk, those missing only (not the web's)
bench-deps:
	$(call apt_missing,$(PACKAGES) $(BENCH_PACKAGES))

# On a throw-away stack of its own (bench/run; BENCH_* settings there)
bench: bench-deps all
	CVC_MODULE=$(MODULE) bench/run

# On a throw-away stack of its own (t/chaos/run; CHAOS_* settings there);
# the stack's packages, those missing only
chaos: all
	$(call apt_missing,$(PACKAGES))
	CVC_MODULE=$(MODULE) t/chaos/run

# libFuzzer harnesses (fuzz/README.md): the module built with clang, ASan
# and UBSan, linked to Debian's nginx made a library (fuzz/libngx); each
# harness runs FUZZ_TIME seconds, one after the other (fuzz/run). llvm-14
# has the llvm-symbolizer of reports with files and lines.
FUZZ_TIME     ?= 60
FUZZ_PACKAGES := clang libclang-rt-14-dev llvm-14
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_NAMES    := $(filter-out ngx_fuzz,\
                   $(basename $(notdir $(wildcard fuzz/*.c))))
FUZZ_BINS     := $(addprefix $(FUZZ_DIR)/,$(FUZZ_NAMES))
FUZZ_MOD_OBJS := $(patsubst ngx_cvc_module/%.c,$(FUZZ_DIR)/obj/%.o,\
                   $(wildcard ngx_cvc_module/*.c))
FUZZ_CFLAGS   := -g -O1 -fno-omit-frame-pointer -fPIC \
                 -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
                 $(NGX_INCS) -I ngx_cvc_module -I /usr/include/postgresql \
                 -I fuzz

fuzz-deps:
	$(call apt_missing,$(PACKAGES) $(FUZZ_PACKAGES))

fuzz: fuzz-deps
	$(MAKE) $(FUZZ_BINS)
	FUZZ_TIME=$(FUZZ_TIME) fuzz/run $(FUZZ_DIR) $(FUZZ_NAMES)

$(FUZZ_MOD_OBJS): $(FUZZ_DIR)/obj/%.o: ngx_cvc_module/%.c $(MOD_SRC) \
                  $(SRC)/objs/Makefile
	@mkdir -p $(dir $@)
	clang -c $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $<

$(FUZZ_DIR)/libcvc.a: $(FUZZ_MOD_OBJS)
	rm -f $@ && ar rcs $@ $^

# the fuzzers' and the unit tests'
$(FUZZ_DIR)/libngx.so $(UNIT_DIR)/libngx.so: fuzz/libngx /usr/sbin/nginx
	@mkdir -p $(dir $@)
	fuzz/libngx /usr/sbin/nginx $@

# a harness may include a module file for its static functions: the
# archive's copy is then never linked
$(addsuffix .o,$(FUZZ_BINS) $(FUZZ_DIR)/ngx_fuzz): $(FUZZ_DIR)/%.o: \
        fuzz/%.c fuzz/ngx_fuzz.h $(MOD_SRC) $(SRC)/objs/Makefile
	@mkdir -p $(dir $@)
	clang -c $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $<

$(FUZZ_BINS): %: %.o $(FUZZ_DIR)/ngx_fuzz.o $(FUZZ_DIR)/libcvc.a \
              $(FUZZ_DIR)/libngx.so
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ \
	  -Wl,-rpath,'$$ORIGIN' $(CVC_LIBS)

# The Debian package (debian/, scripts/build-deb): dpkg-buildpackage on a
# copy of the sources, results in build/deb/; the version is the module's
# (NGX_HTTP_CVC_VERSION). Its build dependencies, those missing only.
DEB_PACKAGES := dpkg-dev debhelper nginx-dev libpq-dev libhiredis-dev \
                libjansson-dev libssl-dev libxlsxwriter-dev libcurl4-openssl-dev
CVC_VERSION := $(shell sed -n 's/^.define NGX_HTTP_CVC_VERSION *"\([^"]*\)".*/\1/p' \
                 ngx_cvc_module/ngx_http_cvc_module.h)
DEB := build/deb/libnginx-mod-http-cvc_$(CVC_VERSION)_$(shell dpkg --print-architecture).deb
DEB_SRC := config $(MOD_SRC) $(shell find debian sql -type f) scripts/cvc-migrate \
           scripts/build-deb README.md docs/deploy.md docs/directives.md \
           docs/operations.md docs/security.md conf/production.example.conf

deb-deps:
	$(call apt_missing,$(DEB_PACKAGES))

deb: $(DEB)

$(DEB): $(DEB_SRC) | deb-deps
	scripts/build-deb build/deb

clean:
	rm -rf build

FORCE:
