#!/bin/sh
# Builds the interop test's independent WHIP server, livekit-server, and
# its viewer, lkread, into the repository's bin/ (or $1). Used by
# `make interop`, which `make test` runs first.
#
# livekit-server is built as LiveKit releases it: from its own module, with
# its own go.sum, fetched through the Go module proxy (checked against the
# checksum database). v1.13.5 is the newest release that builds from the
# proxy alone: from v1.13.6 on, LiveKit's go.mod replaces pion's WebRTC,
# ICE and DTLS with forks of its own that the module proxy does not serve.
# A binary of the right version is kept; lkread is rebuilt (incremental)
# and its tests run.
set -eu
LIVEKIT_VERSION=v1.13.5
GO=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../../bin}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ! "$out/livekit-server" --version 2>/dev/null | grep -qx "livekit-server version ${LIVEKIT_VERSION#v}"; then
	echo "interop: building livekit-server $LIVEKIT_VERSION (a few minutes the first time)" >&2
	dir=$(cd "$here" && "$GO" mod download -json "github.com/livekit/livekit-server@$LIVEKIT_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$dir" ]; then
		echo "interop: go mod download github.com/livekit/livekit-server@$LIVEKIT_VERSION gave no directory" >&2
		exit 1
	fi
	(cd "$dir" && GOFLAGS=-mod=readonly "$GO" build -trimpath -o "$out/livekit-server" ./cmd/server)
fi
# Its module is not under ./... of diemcau's: vetted and tested here.
(cd "$here" && "$GO" build -trimpath -o "$out/lkread" ./lkread && "$GO" vet ./... && "$GO" test ./...)
