package harness

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestThreadGroup(t *testing.T) {
	for in, want := range map[string]string{
		"slatesrc12:src": "slatesrc#:src",
		"in3v15:src":     "in#v#:src",
		"diemcau":        "diemcau",
		"pool-7":         "pool-#",
	} {
		if got := threadGroup(in); got != want {
			t.Errorf("threadGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThreadGroupsOfSelf(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	a := readThreads(pid)
	if len(a.cpu) == 0 {
		t.Fatal("no threads read")
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	gs := threadGroups(a, readThreads(pid))
	total, n := 0.0, 0
	for _, g := range gs {
		total += g.CPU
		n += g.Threads
	}
	if n < 1 || total < 0 {
		t.Fatalf("groups %+v", gs)
	}
}
