# The two commands of the README: `make run` and `make test`. Both install
# what is missing first (.ci/install), so they work on a fresh Debian 12.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/diemcau
# go-gst's cgo build is slow cold; keep tests well inside CI's 90 minutes.
TEST_TIMEOUT ?= 40m

.PHONY: run test install build vet bench clean fuzz interop

install:
	./.ci/install
	$(GO) mod download

build: install
	$(GO) build -o $(BIN) ./cmd/diemcau

run: build
	./$(BIN) serve $(ARGS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...

# LiveKit (the independent WHIP server the session outputs are proved
# against) and its viewer, built from the module proxy into bin/; their
# module, bench/interop/livekit, keeps LiveKit out of go.mod and ./... .
interop: install
	GO=$(GO) ./bench/interop/livekit/build.sh

test: install vet interop
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
# Fuzz targets' seed corpora run as ordinary tests above; open-ended fuzzing,
# which can fail by chance on a loaded machine, is `make fuzz` on its own.

# Each fuzz target in turn for FUZZTIME (a duration, or Nx executions);
# -run '^$$' skips the ordinary tests (and cmd/diemcau's binary build).
# A crash is saved under the package's testdata/fuzz/ and fails the target.
# Minimising each new input for the default 60 s would eat the whole run;
# file-based targets (recorder) run several times faster with TMPDIR on tmpfs.
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 100x
FUZZ_TARGETS := \
	ingest:FuzzDepacketizeH264 ingest:FuzzDepacketizeH265 ingest:FuzzDepacketizeAAC \
	ingest:FuzzDepacketizeLATM ingest:FuzzDepacketizeOpus ingest:FuzzProbeResponse \
	recorder:FuzzManifestRead recorder:FuzzVerify \
	control/whep:FuzzWHEPOffer control:FuzzDecodeJSON cmd/diemcau:FuzzConfig

fuzz: install
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "== $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./$$pkg; \
	done

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./bench/...

clean:
	rm -rf bin
