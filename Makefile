# sshdoctor — see README.md. Every target that runs tests or the demo first
# installs the Debian packages it needs (scripts/deps.sh).
SHELL := /bin/bash
GO    ?= $(shell command -v go || echo /usr/local/go/bin/go)
BIN   := bin/sshdoctor
STATICCHECK_VERSION := v0.8.2
# `make install` puts the binary in $(PREFIX)/bin and the man pages in
# $(PREFIX)/share/man/man1; DESTDIR stages both for a package.
PREFIX  ?= /usr/local
DESTDIR ?=
# The version `sshdoctor version` prints: the nearest tag and the commit.
# The commit and its time also come from Go's VCS stamping (-buildvcs),
# which needs a plain git checkout (not a linked worktree).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build deps test test-go fuzz lint bench demo docs man install fix-table clean

all: build

build:
	$(GO) build -buildvcs=auto -ldflags "-X github.com/sshdoctor/sshdoctor/internal/cli.Version=$(VERSION)" -o $(BIN) ./cmd/sshdoctor

# Man pages, one per command (sshdoctor.1, sshdoctor-check.1, …), from the
# command tree's own help.
man:
	rm -rf bin/man1
	$(GO) run -ldflags "-X github.com/sshdoctor/sshdoctor/internal/cli.Version=$(VERSION)" ./cmd/sshdoctor-man bin/man1

install: build man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sshdoctor
	install -m 0644 bin/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

deps:
	@bash scripts/deps.sh >/dev/null

# What CI runs (.ci/run): packages, static checks, every test. Tests that
# need root or namespaces run (never skip) under CI=true.
test: deps lint test-go fuzz

test-go:
	$(GO) test -count=1 -timeout 30m ./...

# Short fuzz runs of the parsers that read untrusted input (their seeds also
# run in test-go). FUZZTIME=1m make fuzz explores longer.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZTIME) ./internal/bootlog
	$(GO) test -run '^$$' -fuzz '^FuzzParseNSG$$' -fuzztime $(FUZZTIME) ./internal/netpolicy
	$(GO) test -run '^$$' -fuzz '^FuzzParseRoutes$$' -fuzztime $(FUZZTIME) ./internal/netpolicy
	$(GO) test -run '^$$' -fuzz '^FuzzParseServerKexInit$$' -fuzztime $(FUZZTIME) ./internal/probe

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null || [ -x $$($(GO) env GOPATH)/bin/staticcheck ] || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

bench: deps
	bash bench/fix.sh
	bash bench/check.sh 20
	bash bench/lab.sh
	bash bench/guest.sh 20

demo: deps build
	bash scripts/demo.sh $(BIN)

docs: build
	$(BIN) findings --output markdown > docs/findings.md

# docs/fix.md: its tables come from the lab's fix e2e tests (root).
fix-table: deps
	mkdir -p bin
	CI=true SSHDOCTOR_FIX_TABLE=$(CURDIR)/bin/fixtable $(GO) test -count=1 -run '^TestFix(Catalogue|Compound)$$' ./internal/lab
	bash scripts/fix-doc.sh bin/fixtable > docs/fix.md

clean:
	rm -rf bin
