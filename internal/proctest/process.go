// Package proctest starts real processes for tests (the diemcau binary,
// camsim, ffmpeg): their output is kept and shown when the test fails, a
// test can wait for a line of it, and they are stopped when the test ends.
package proctest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a process has between SIGTERM and SIGKILL when
// its test ends.
const stopGrace = 10 * time.Second

// Process is a child started by a test.
type Process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	line chan string // recent lines, for WaitLine; dropped when nobody reads
	done chan struct{}
	err  error
}

// Start runs name with args. Stdout and stderr are kept together; when
// the test ends the process gets SIGTERM, then SIGKILL after 10 s, and
// its output is logged if the test failed.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartIn(t, "", nil, name, args...)
}

// StartIn is Start in working directory dir ("" for the test's own) with
// env added to the test's environment (e.g. DIEMCAU_ARCHIVE_SEGMENT=2s).
func StartIn(t testing.TB, dir string, env []string, name string, args ...string) *Process {
	t.Helper()
	p := &Process{cmd: exec.Command(name, args...), line: make(chan string, 256), done: make(chan struct{})}
	p.cmd.Dir = dir
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	stdout, _ := p.cmd.StdoutPipe()
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var wg sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		wg.Go(func() { p.keep(r) })
	}
	go func() {
		// Wait closes the pipes: the readers must have finished first.
		wg.Wait()
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(stopGrace)
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.Output())
		}
	})
	return p
}

func (p *Process) keep(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.out.WriteString(sc.Text() + "\n")
		p.mu.Unlock()
		select {
		case p.line <- sc.Text():
		default:
		}
	}
}

// Output is everything the process has printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Stop sends SIGTERM and waits up to grace, then kills; it reports whether
// the process ended in time.
func (p *Process) Stop(grace time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

// Signal sends sig to the process, e.g. SIGKILL to crash it on purpose.
func (p *Process) Signal(sig os.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err waits for the process to end and returns how it ended (nil for
// exit status 0).
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// WaitLine waits up to d for a line of output containing s and returns it;
// the test fails if the process ends first or d passes.
func (p *Process) WaitLine(t testing.TB, s string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-p.line:
			if strings.Contains(l, s) {
				return l
			}
		case <-p.done:
			t.Fatalf("process ended before printing %q", s)
		case <-deadline:
			t.Fatalf("no line with %q within %s", s, d)
		}
	}
}
