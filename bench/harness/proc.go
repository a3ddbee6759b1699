package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process the bench started: camsim, the server or the
// bare gst-launch baseline. Each runs in a process group of its own, so a
// stop reaches anything it started too, and a Ctrl-C at the terminal
// reaches only the bench, which then stops its children in order.
type Proc struct {
	Name string
	Log  string // file with the child's stdout and stderr
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// ProcGroup owns every child of one run; StopAll is deferred on every path
// out of a run, so no child outlives it.
//
// Children are forked from one goroutine locked to its OS thread, which
// lives until StopAll: Linux sends Pdeathsig when the forking *thread*
// ends, and the Go runtime may retire an ordinary thread at any time. So a
// bench killed with SIGKILL still takes its children with it, and a living
// one never loses them by accident.
type ProcGroup struct {
	dir    string
	mu     sync.Mutex
	procs  []*Proc
	starts chan func()
	once   sync.Once
	quit   chan struct{}
}

// NewProcGroup keeps the children's logs in dir.
func NewProcGroup(dir string) *ProcGroup {
	return &ProcGroup{dir: dir, starts: make(chan func()), quit: make(chan struct{})}
}

func (g *ProcGroup) forker() {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	for {
		select {
		case f := <-g.starts:
			f()
		case <-g.quit:
			return
		}
	}
}

// Start runs argv as a child named name. onLine, when set, sees every line
// of the child's stdout (and the line still goes to the log).
func (g *ProcGroup) Start(name string, argv []string, onLine func(string)) (*Proc, error) {
	logPath := filepath.Join(g.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logFile
	var stdout io.ReadCloser
	if onLine != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logFile.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logFile
	}
	// Setpgid: the child leads its own group. Pdeathsig: the kernel kills
	// it if the bench dies without running its deferred stops (SIGKILL).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	g.once.Do(func() { go g.forker() })
	started := make(chan error)
	select {
	case g.starts <- func() { started <- cmd.Start() }:
		err = <-started
	case <-g.quit:
		err = errStopped
	}
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	var copied sync.WaitGroup
	if stdout != nil {
		copied.Go(func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				line := sc.Text()
				onLine(line)
				fmt.Fprintln(logFile, line)
			}
			_, _ = io.Copy(logFile, stdout)
		})
	}
	go func() {
		copied.Wait()
		p.err = cmd.Wait()
		// Anything the child left in its group goes with it. Done at once,
		// while the group id cannot have been reused by another program.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the child's process id (and its process group's).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited says whether the child has ended, and why.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Tail is the end of the child's log, for error messages.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ExitError describes a child that ended before it should have.
func (p *Proc) ExitError() error {
	_, err := p.Exited()
	return fmt.Errorf("%s exited early (%v); its last lines:\n%s", p.Name, err, p.Tail(15))
}

// Stop asks the child's group to end (SIGTERM) and kills it (SIGKILL)
// after grace; it returns once the child is reaped. Stopping a child that
// has ended does nothing: its group id may belong to someone else by now.
func (p *Proc) Stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// StopAll stops the children, last started first (the server before the
// cameras it reads), and waits for them.
func (g *ProcGroup) StopAll(grace time.Duration) {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(grace)
	}
}

// Close stops every child and the forking thread; the group starts no more.
func (g *ProcGroup) Close(grace time.Duration) {
	g.StopAll(grace)
	g.mu.Lock()
	select {
	case <-g.quit:
	default:
		close(g.quit)
	}
	g.mu.Unlock()
}

// waitFor polls cond every 200 ms until it holds, ctx ends, d passes or
// one of the watched children exits.
func waitFor(ctx context.Context, d time.Duration, what string, watch []*Proc, cond func() bool) error {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return nil
		}
		for _, p := range watch {
			if ok, _ := p.Exited(); ok {
				return fmt.Errorf("waiting for %s: %w", what, p.ExitError())
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var errStopped = errors.New("bench is stopping: no new process")
