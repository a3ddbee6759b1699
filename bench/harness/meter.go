package harness

import (
	"context"
	"os"
	"strconv"
	"time"
)

// procRef is a process whose costs a run reports.
type procRef struct {
	role string
	pid  int // 0 with metrics: a --target server without --target-pid
	api  *API
}

// meter measures CPU and memory of the run's processes over the window:
// read at begin and end, so the figure is exact for the window whatever
// the sampling in between.
type meter struct {
	refs    []procRef
	start   []CPUSample
	threads []threadSample // per ref, at begin: the per-thread breakdown
	last    CPUSample      // the server, at the previous tick
}

func (e *env) newMeter(extra ...procRef) *meter {
	m := &meter{}
	if e.server != nil {
		if e.server.pid > 0 {
			m.refs = append(m.refs, procRef{role: "server", pid: e.server.pid})
		} else {
			m.refs = append(m.refs, procRef{role: "server", api: e.server.API})
		}
	}
	if e.camsim != nil {
		m.refs = append(m.refs, procRef{role: "camsim", pid: e.camsim.PID()})
	}
	m.refs = append(m.refs, procRef{role: "bench", pid: os.Getpid()})
	m.refs = append(m.refs, extra...)
	return m
}

func (r procRef) cpu(ctx context.Context) CPUSample {
	if r.pid > 0 {
		return readCPU(strconv.Itoa(r.pid))
	}
	// A remote server's own counter: user and system together.
	s := CPUSample{At: time.Now()}
	if met, err := r.api.Metrics(ctx); err == nil {
		if v, ok := met["diemcau_process_cpu_seconds_total"]; ok {
			s.User, s.Ok = time.Duration(v*float64(time.Second)), true
		}
	}
	return s
}

func (r procRef) memory(ctx context.Context) uint64 {
	if r.pid > 0 {
		peak, _ := memStatus(strconv.Itoa(r.pid))
		return peak
	}
	if met, err := r.api.Metrics(ctx); err == nil {
		return uint64(met["diemcau_process_resident_memory_bytes"])
	}
	return 0
}

func (m *meter) begin(ctx context.Context) {
	m.start = make([]CPUSample, len(m.refs))
	m.threads = make([]threadSample, len(m.refs))
	for i, r := range m.refs {
		m.start[i] = r.cpu(ctx)
		if r.pid > 0 {
			m.threads[i] = readThreads(strconv.Itoa(r.pid))
		}
	}
	if len(m.start) > 0 {
		m.last = m.start[0]
	}
}

// tick is the server's CPU since the previous tick, for the progress line
// and the per-second samples.
func (m *meter) tick(ctx context.Context) float64 {
	if len(m.refs) == 0 || m.refs[0].role != "server" {
		return 0
	}
	now := m.refs[0].cpu(ctx)
	c := cores(m.last, now)
	m.last = now
	return c
}

// end reads every process again and returns the window's figures.
func (m *meter) end(ctx context.Context) []ProcessFigures {
	out := make([]ProcessFigures, 0, len(m.refs))
	for i, r := range m.refs {
		now := r.cpu(ctx)
		a := m.start[i]
		wall := now.At.Sub(a.At).Seconds()
		f := ProcessFigures{Role: r.role, PID: r.pid, CPU: cores(a, now), PeakRSS: r.memory(ctx), From: "proc"}
		if r.pid == 0 {
			f.From = "metrics"
		} else {
			f.Threads = threadGroups(m.threads[i], readThreads(strconv.Itoa(r.pid)))
		}
		if a.Ok && now.Ok && wall > 0 {
			f.CPUUser = (now.User - a.User).Seconds() / wall
			f.CPUSys = (now.Sys - a.Sys).Seconds() / wall
		}
		out = append(out, f)
	}
	return out
}
