package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestScenarioSmoke runs each scenario once, at its smallest load on
// 320x180 pictures for a couple of seconds, and checks that the JSON holds
// every figure the scenario measures and that no process is left behind.
// Nothing here judges speed.
func TestScenarioSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke runs start camsim and the server")
	}
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		t.Skip("gst-launch-1.0 is needed for the composite baseline: ", err)
	}
	// The system under test, built without -race: the code under test is
	// this package.
	binary := filepath.Join(t.TempDir(), "diemcau")
	build := exec.Command("go", "build", "-o", binary, "diemcau/cmd/diemcau")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building diemcau: %v\n%s", err, out)
	}
	common := []string{"server_cpu_cores", "server_peak_rss_bytes", "delivered_fps", "delivered_fps_min", "input_rtp_lost"}
	composite := []string{"mixer_fps", "dropped_frames", "latency_ms.p50", "latency_ms.p95"}
	archive := []string{"bytes_written", "bytes_written_per_s", "fsync_p99_ms", "archived_fps"}
	if _, ok := diskWrites("self"); ok {
		archive = append(archive, "disk_write_bytes_per_s")
	}
	viewers := []string{"viewers.connected", "viewers.reference_fps", "viewers.load_gen_cpu_cores", "rtp_lost", "first_frame_ms",
		"output_missing_frames", "frame_interval_ms.p50", "frame_interval_ms.p99"}
	tests := []struct {
		scenario string
		opts     Options
		figures  []string
	}{
		{"relay", Options{Cameras: 1, Viewers: 2}, cat(viewers, []string{"dropped_frames"})},
		{"composite", Options{Inputs: 1}, cat(composite, []string{"rtp_lost", "first_frame_ms", "output_missing_frames",
			"frame_interval_ms.p50", "baseline.cpu_cores", "baseline.fps", "baseline.cpu_ratio", "baseline.peak_rss_bytes"})},
		// Four 160x90 tiles on a 320x180 composite: each fits its camera's
		// 160x90 sub-stream.
		{"composite", Options{Inputs: 4, Sub: true, SubWidth: 160, SubHeight: 90, NoBaseline: true}, cat(composite,
			[]string{"without_sub.server_cpu_cores", "without_sub.delivered_fps", "points_on_sub"})},
		{"record", Options{Streams: 1}, cat(composite, archive)},
		{"session", Options{Points: 1, Viewers: 1, AVSeconds: 3 * time.Second}, cat(composite, archive, viewers,
			[]string{"end_to_end.composite_ms.p50", "end_to_end.passthrough_ms.p50", "end_to_end.composite_flashes", "av"})},
		{"nodes", Options{Nodes: 2}, cat(composite, []string{"nodes.return_feed_ms.p50", "nodes.return_feed_ms.p95", "nodes.hub_composite_ms.p50",
			"nodes.return_flashes", "nodes.cpu_per_node_cores", "nodes.peak_rss_per_node_bytes", "nodes.per_node"})},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			o := tc.opts
			o.Binary = binary
			o.Width, o.Height, o.FPS, o.BitrateKbps, o.OutKbps = 320, 180, 15, 300, 300
			o.Warmup, o.Seconds = time.Second, 2*time.Second
			o.JSON = filepath.Join(t.TempDir(), "bench.json")
			var table strings.Builder
			o.Out = &table
			rep, err := Bench(ctx, tc.scenario, o)
			t.Log("\n" + table.String())
			if err != nil {
				t.Fatal(err)
			}
			assertNoChildren(t, rep)
			raw, err := os.ReadFile(o.JSON)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"machine.cpu_model", "machine.cores", "machine.gstreamer", "encoder.element", "decoder.element"} {
				if lookupJSON(doc, k) == nil {
					t.Errorf("report has no %s", k)
				}
			}
			runs, _ := doc["runs"].([]any)
			if len(runs) != 1 {
				t.Fatalf("%d runs in the JSON", len(runs))
			}
			run := runs[0].(map[string]any)
			for _, k := range cat(common, tc.figures) {
				if lookupJSON(run, k) == nil {
					t.Errorf("%s: figure %s is missing or null", tc.scenario, k)
				}
			}
			roles := map[string]bool{}
			for _, p := range run["processes"].([]any) {
				pm := p.(map[string]any)
				roles[pm["role"].(string)] = true
				if pm["peak_rss_bytes"].(float64) <= 0 {
					t.Errorf("process %v: no peak RSS", pm)
				}
			}
			for _, role := range []string{"server", "camsim", "bench"} {
				if !roles[role] {
					t.Errorf("no figures for the %s process", role)
				}
			}
			if s, _ := run["samples"].([]any); len(s) == 0 {
				t.Error("no per-second samples")
			}
			if tc.scenario == "session" {
				checkAVOutputs(t, run)
			}
			if n, _ := run["points_on_sub"].(float64); tc.opts.Sub && int(n) != tc.opts.Inputs {
				t.Errorf("%v of %d points decoded their sub-stream, want all", run["points_on_sub"], tc.opts.Inputs)
			}
		})
	}
}

// checkAVOutputs: the session measured every output's lip sync and
// sound with the meter (not judged: this is a smoke run on 2 s).
func checkAVOutputs(t *testing.T, run map[string]any) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range run["av"].([]any) {
		am := a.(map[string]any)
		seen[am["output"].(string)] = true
		if am["error"] != nil || am["audio_present_pct"] == nil {
			t.Errorf("A/V of %v: no sound measured: %v", am["output"], am)
		}
	}
	for _, o := range []string{"rtsp_composite", "whep_composite", "whep_return", "archived_composite", "archived_source"} {
		if !seen[o] {
			t.Errorf("A/V of the %s: not measured", o)
		}
	}
}

func cat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// lookupJSON follows a dotted path; nil when a step is missing or null.
func lookupJSON(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// assertNoChildren checks /proc: no process of this test's, and none in
// the process group of any child the run started (a grandchild would have
// been handed to init and left running).
func assertNoChildren(t *testing.T, rep *Report) {
	t.Helper()
	groups := map[int]bool{}
	for _, r := range rep.Runs {
		for _, p := range r.Processes {
			if p.Role != "bench" && p.PID > 0 {
				groups[p.PID] = true
			}
		}
	}
	if len(groups) == 0 {
		t.Error("the report names no child process")
	}
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		if ppid == self {
			t.Errorf("process %d (%s) is still a child of the test", pid, cmdline(pid))
		}
		if groups[pgrp] {
			t.Errorf("process %d (%s) is left in the group of child %d", pid, cmdline(pid), pgrp)
		}
	}
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}
