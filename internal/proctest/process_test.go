package proctest

import (
	"strings"
	"testing"
	"time"
)

// TestProcess starts sh, a real child, as the end-to-end tests start the
// server, and stops it both ways.
func TestProcess(t *testing.T) {
	cases := []struct {
		name     string
		script   string
		grace    time.Duration
		wantStop bool // ended within grace after SIGTERM
	}{
		{name: "stops on SIGTERM", script: "echo ready; echo to stderr >&2; exec sleep 60", grace: 10 * time.Second, wantStop: true},
		{name: "killed when it ignores SIGTERM", script: "trap '' TERM; echo ready; while :; do sleep 0.1; done", grace: 300 * time.Millisecond, wantStop: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Start(t, "sh", "-c", c.script)
			if l := p.WaitLine(t, "read", 10*time.Second); l != "ready" {
				t.Errorf("WaitLine = %q, want the whole line", l)
			}
			if got := p.Stop(c.grace); got != c.wantStop {
				t.Errorf("Stop = %v, want %v", got, c.wantStop)
			}
			if p.Err() == nil {
				t.Error("Err = nil for a process ended by a signal")
			}
			select {
			case <-p.Done():
			default:
				t.Error("Done not closed after Stop")
			}
			if !strings.Contains(p.Output(), "ready\n") {
				t.Errorf("Output = %q", p.Output())
			}
		})
	}
}

func TestOutputKeepsBothStreams(t *testing.T) {
	p := Start(t, "sh", "-c", "echo out; echo err >&2")
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"out\n", "err\n"} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("Output %q lacks %q", p.Output(), want)
		}
	}
}

func TestFreePortPair(t *testing.T) {
	p := FreePortPair(t)
	if !udpFree(p) || !udpFree(p+1) {
		t.Errorf("port %d or the next is taken", p)
	}
}
