package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports (the kernel fixes it for user space).
const clockTicks = 100

// CPUSample is a process's CPU time so far, read from /proc/PID/stat.
type CPUSample struct {
	At        time.Time
	User, Sys time.Duration
	Ok        bool
}

// readCPU reads pid's user and system time ("self" for this process).
func readCPU(pid string) CPUSample {
	s := CPUSample{At: time.Now()}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s
	}
	// The command name is in parentheses and may hold spaces; the fields
	// counted in proc(5) start after its closing one.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return s
	}
	// f[0] is field 3 (state); utime is field 14, stime 15.
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s
	}
	s.User = time.Duration(ut) * time.Second / clockTicks
	s.Sys = time.Duration(st) * time.Second / clockTicks
	s.Ok = true
	return s
}

// cores is the CPU used between two samples, in cores (1.0 = one core busy).
func cores(a, b CPUSample) float64 {
	wall := b.At.Sub(a.At).Seconds()
	if !a.Ok || !b.Ok || wall <= 0 {
		return 0
	}
	return (b.User + b.Sys - a.User - a.Sys).Seconds() / wall
}

// memStatus reads the peak and current resident set of pid, in bytes.
func memStatus(pid string) (peak, rss uint64) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "VmHWM":
			peak = parseKB(v)
		case "VmRSS":
			rss = parseKB(v)
		}
	}
	return peak, rss
}

// diskWrites is the bytes pid caused to be written to storage
// (/proc/PID/io write_bytes); false where the kernel does not count them.
func diskWrites(pid string) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/io")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func parseKB(v string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n * 1024
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUModel    string  `json:"cpu_model"`
	Cores       int     `json:"cores"`
	MemoryBytes uint64  `json:"memory_bytes"`
	Kernel      string  `json:"kernel"`
	GStreamer   string  `json:"gstreamer"`
	GoVersion   string  `json:"go_version"`
	LoadAvg1    float64 `json:"load_average_1m_at_start"` // other work on the machine
	Hostname    string  `json:"hostname"`
}

// ReadMachine reads /proc for the CPU, memory and kernel; the GStreamer
// version is filled in from the server's /api/v1/info.
func ReadMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemoryBytes = parseKB(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscanf(string(b), "%g", &m.LoadAvg1)
	}
	m.Hostname, _ = os.Hostname()
	return m
}
