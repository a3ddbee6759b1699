package harness

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ThreadGroup is the CPU of a process's threads that share a name once
// their numbers are taken out ("slatesrc12:src" and "slatesrc3:src" are
// "slatesrc#:src"): where a process spends its CPU, per kind of work.
// GStreamer names a streaming thread after its element and pad, GLib's
// pools after the pool, Go's threads after the program.
type ThreadGroup struct {
	Name    string  `json:"name"`
	Threads int     `json:"threads"`
	CPU     float64 `json:"cpu_cores"`
	// Busiest is the CPU of the group's busiest thread: one thread near
	// 1.0 is work that cannot spread (a single sender of a stream).
	Busiest float64 `json:"busiest_thread_cores"`
}

// threadSample is each thread's name and CPU time so far.
type threadSample struct {
	at   time.Time
	cpu  map[int]time.Duration
	name map[int]string
}

// readThreads reads /proc/PID/task/*/stat.
func readThreads(pid string) threadSample {
	s := threadSample{at: time.Now(), cpu: map[int]time.Duration{}, name: map[int]string{}}
	dir := "/proc/" + pid + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return s
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		line := string(b)
		open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(line[end+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		s.cpu[tid] = time.Duration(ut+st) * time.Second / clockTicks
		s.name[tid] = line[open+1 : end]
	}
	return s
}

// threadGroup is a thread's name without its numbers.
func threadGroup(name string) string {
	var b strings.Builder
	digits := false
	for _, r := range name {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}

// threadGroups is the CPU each group used between a and b, the busiest
// first. A thread that started within the window counts from zero; one
// that ended within it is not seen (its time is in the process's total).
func threadGroups(a, b threadSample) []ThreadGroup {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 || len(b.cpu) == 0 {
		return nil
	}
	by := map[string]*ThreadGroup{}
	for tid, t := range b.cpu {
		g := threadGroup(b.name[tid])
		tg := by[g]
		if tg == nil {
			tg = &ThreadGroup{Name: g}
			by[g] = tg
		}
		tg.Threads++
		c := (t - a.cpu[tid]).Seconds() / wall
		tg.CPU += c
		tg.Busiest = max(tg.Busiest, c)
	}
	out := make([]ThreadGroup, 0, len(by))
	for _, g := range by {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CPU != out[j].CPU {
			return out[i].CPU > out[j].CPU
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// writeThreads prints the busiest groups on one line, the rest summed.
func writeThreads(w io.Writer, head string, gs []ThreadGroup) {
	if len(gs) == 0 {
		return
	}
	const shown = 10
	var parts []string
	rest, restN := 0.0, 0
	for i, g := range gs {
		if i < shown {
			part := fmt.Sprintf("%s×%d %.3f", g.Name, g.Threads, g.CPU)
			if g.Threads > 1 && g.Busiest >= 0.05 {
				part += fmt.Sprintf(" (busiest %.3f)", g.Busiest)
			}
			parts = append(parts, part)
			continue
		}
		rest += g.CPU
		restN += g.Threads
	}
	if restN > 0 {
		parts = append(parts, fmt.Sprintf("other×%d %.3f", restN, rest))
	}
	fmt.Fprintf(w, "%s per thread (cores): %s\n", head, strings.Join(parts, " · "))
}
