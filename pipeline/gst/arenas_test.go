package gst

import (
	"os"
	"testing"
)

// TestMallocArenasCapped: with eight threads allocating at once, the
// process holds no more arenas than the cap, where glibc alone would give
// each thread its own (up to eight per core).
func TestMallocArenasCapped(t *testing.T) {
	if _, set := os.LookupEnv("MALLOC_ARENA_MAX"); set {
		t.Skip("MALLOC_ARENA_MAX is set: the environment's choice stands")
	}
	n := probeMallocArenas(8)
	if n < 0 {
		t.Skip("not glibc: no arena cap to check")
	}
	if n > 2 {
		t.Fatalf("%d malloc arenas after 8 threads allocated at once, want at most 2", n)
	}
}
