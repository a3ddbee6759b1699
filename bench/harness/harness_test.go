package harness

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSweep(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		params  []string
		param   string
		values  []int
		wantErr string
	}{
		{"inputs", "inputs=1,2,4,8", []string{"inputs"}, "inputs", []int{1, 2, 4, 8}, ""},
		{"spaces", " viewers = 50, 100 ", []string{"viewers", "cameras"}, "viewers", []int{50, 100}, ""},
		{"second param", "cameras=2", []string{"viewers", "cameras"}, "cameras", []int{2}, ""},
		{"wrong param", "streams=8", []string{"inputs"}, "", nil, "sweeps inputs"},
		{"no values", "inputs=", []string{"inputs"}, "", nil, "want PARAM="},
		{"not a number", "inputs=1,x", []string{"inputs"}, "", nil, `"x" is not`},
		{"zero", "inputs=0", []string{"inputs"}, "", nil, "not a positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, v, err := parseSweep(tc.in, tc.params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || p != tc.param || !reflect.DeepEqual(v, tc.values) {
				t.Fatalf("= %q %v %v, want %q %v", p, v, err, tc.param, tc.values)
			}
		})
	}
}

func TestSweepCarries(t *testing.T) {
	tests := []struct {
		name           string
		held           map[int]bool
		carries, held1 int
	}{
		{"all hold", map[int]bool{1: true, 2: true, 4: true}, 4, 4},
		{"breaks at 4", map[int]bool{1: true, 2: true, 4: false, 8: false}, 2, 2},
		{"noise in the middle", map[int]bool{1: true, 2: false, 4: true}, 1, 4},
		{"none", map[int]bool{1: false, 2: false}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runs []*Run
			for load, ok := range tc.held {
				runs = append(runs, &Run{Load: load, RealTime: ok})
			}
			s := &Sweep{}
			s.findCarries(runs)
			if s.Carries != tc.carries || s.LargestHeld != tc.held1 {
				t.Fatalf("carries %d, largest held %d; want %d, %d", s.Carries, s.LargestHeld, tc.carries, tc.held1)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name string
		run  Run
		ok   bool
		why  string
	}{
		{"holds", Run{TargetFPS: 30, DeliveredFPS: ptr(29.5), DroppedFrames: ptr(uint64(0)), RTPLost: ptr(uint64(0))}, true, ""},
		{"slow", Run{TargetFPS: 30, DeliveredFPS: ptr(29.0)}, false, "< 98%"},
		{"a drop", Run{TargetFPS: 30, DeliveredFPS: ptr(30.0), DroppedFrames: ptr(uint64(1))}, false, "1 frames dropped"},
		{"loss", Run{TargetFPS: 30, DeliveredFPS: ptr(30.0), RTPLost: ptr(uint64(3))}, false, "3 RTP packets lost"},
		{"ingest loss", Run{TargetFPS: 30, DeliveredFPS: ptr(30.0), InputRTPLost: ptr(uint64(2))}, false, "at ingest"},
		{"worst output", Run{TargetFPS: 30, DeliveredFPS: ptr(30.0), DeliveredFPSMin: ptr(10.0)}, false, "worst output"},
		{"not measured", Run{TargetFPS: 30}, false, "no delivered fps"},
		{"scenario reason", Run{TargetFPS: 30, DeliveredFPS: ptr(30.0), extra: []string{"2 viewers got nothing"}}, false, "got nothing"},
		{"error", Run{TargetFPS: 30, DeliveredFPS: ptr(30.0), Error: "boom"}, false, "error: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run
			r.judge()
			if r.RealTime != tc.ok || !strings.Contains(r.NotRealTime, tc.why) {
				t.Fatalf("real time %v (%q), want %v with %q", r.RealTime, r.NotRealTime, tc.ok, tc.why)
			}
		})
	}
}

func TestMissingFrames(t *testing.T) {
	const tick = 3000 // 30 fps
	tests := []struct {
		name     string
		prev, ts uint32
		want     uint64
	}{
		{"next frame", 0, 3000, 0},
		{"jittered", 0, 4400, 0},
		{"one missing", 0, 6000, 1},
		{"three missing", 9000, 21000, 3},
		{"wraps", 0xffffff00, 3000 - 0x100, 0},
		{"wraps with a gap", 0xffffff00, 9000 - 0x100, 2},
		{"backwards", 6000, 3000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := missingFrames(tc.prev, tc.ts, tick); got != tc.want {
				t.Fatalf("= %d, want %d", got, tc.want)
			}
		})
	}
}

func TestH264StartsKeyframe(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"IDR", []byte{0x65, 0x88}, true},
		{"SPS", []byte{0x67, 0x42}, true},
		{"P slice", []byte{0x41, 0x9a}, false},
		{"STAP-A with SPS", []byte{0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68}, true},
		{"STAP-A of SEI", []byte{0x78, 0, 2, 0x06, 0x05}, false},
		{"FU-A IDR start", []byte{0x7c, 0x85, 0}, true},
		{"FU-A IDR middle", []byte{0x7c, 0x05, 0}, false},
		{"FU-A P start", []byte{0x5c, 0x81, 0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h264StartsKeyframe(tc.payload); got != tc.want {
				t.Fatalf("= %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var d []float64
	for i := 1; i <= 100; i++ {
		d = append(d, float64(i))
	}
	p := percentiles(d)
	if *p.P50 != 51 || *p.P95 != 95 || *p.P99 != 99 {
		t.Fatalf("p50 %v p95 %v p99 %v", *p.P50, *p.P95, *p.P99)
	}
	if e := percentiles(nil); e.P50 != nil || e.P99 != nil {
		t.Fatal("percentiles of nothing must be null")
	}
}

func TestBarePipelineGrid(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		want  []string
		tile  string
		avoid string
	}{
		{"one", 1, []string{"sink_0::xpos=0 sink_0::ypos=0"}, "width=1280,height=720,pixel-aspect-ratio=1/1", ""},
		{"four", 4, []string{"sink_3::xpos=640 sink_3::ypos=360"}, "width=640,height=360", ""},
		// 3 → 2×2 with the short last row centred, as the mixer draws it.
		{"three", 3, []string{"sink_2::xpos=320 sink_2::ypos=360"}, "width=640,height=360", "sink_3"},
	}
	o := Options{OutWidth: 1280, OutHeight: 720, FPS: 30, OutKbps: 2500}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := barePipeline("rtsp://127.0.0.1:1", tc.n, o, "avdec_h264", "x264enc")
			for _, w := range append(tc.want, tc.tile, "x264enc speed-preset=ultrafast tune=zerolatency", "bitrate=2500",
				"framerate=30/1", "fpsdisplaysink", "rtph264depay ! h264parse ! avdec_h264") {
				if !strings.Contains(p, w) {
					t.Errorf("pipeline lacks %q:\n%s", w, p)
				}
			}
			if n := strings.Count(p, "rtspsrc "); n != tc.n {
				t.Errorf("%d rtspsrc, want %d", n, tc.n)
			}
			if tc.avoid != "" && strings.Contains(p, tc.avoid) {
				t.Errorf("pipeline has %q", tc.avoid)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP diemcau_process_cpu_seconds_total x
# TYPE diemcau_process_cpu_seconds_total counter
diemcau_process_cpu_seconds_total 12.5
diemcau_mixer_fps{encoder="x264enc",session="s"} 29.97
bad line
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["diemcau_process_cpu_seconds_total"] != 12.5 || m[`diemcau_mixer_fps{encoder="x264enc",session="s"}`] != 29.97 || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}

func TestReadCPUAndMemoryOfSelf(t *testing.T) {
	a := readCPU("self")
	x := 0
	for i := range 20_000_000 {
		x += i
	}
	b := readCPU("self")
	if !a.Ok || !b.Ok || b.User+b.Sys < a.User+a.Sys || x == 0 {
		t.Fatalf("samples %+v %+v", a, b)
	}
	if peak, rss := memStatus("self"); peak == 0 || rss == 0 || peak < rss {
		t.Fatalf("peak %d rss %d", peak, rss)
	}
	if readCPU("0").Ok {
		t.Fatal("pid 0 has no stat")
	}
}

func TestTableAndHTML(t *testing.T) {
	rep := &Report{Scenario: "composite", Machine: Machine{CPUModel: "Test CPU", Cores: 2, GStreamer: "1.22.0"},
		Encoder: Codec{Element: "x264enc"}, Decoder: Codec{Element: "avdec_h264"}, Sweep: &Sweep{Param: "inputs", Values: []int{1, 2}, Carries: 1, LargestHeld: 1}}
	for i, fps := range []float64{30, 21.5} {
		r := &Run{LoadName: "inputs", Load: i + 1, TargetFPS: 30, DeliveredFPS: ptr(fps), ServerCPU: ptr(0.5 * float64(i+1)),
			Processes: []ProcessFigures{{Role: "server", CPU: 0.5 * float64(i+1), PeakRSS: 100e6}},
			Baseline:  &Baseline{CPU: 0.3, FPS: 30, CPURatio: 1.7}, Notes: []string{"a <note>"},
			Samples: []Sample{{T: 1, ServerCPU: 0.4, FPS: 30}, {T: 2, ServerCPU: 0.6, FPS: 29}}}
		r.judge()
		rep.Runs = append(rep.Runs, r)
	}
	var b bytes.Buffer
	rep.WriteTable(&b)
	out := b.String()
	for _, w := range []string{"inputs=2", "NO", "21.5", "1.70", "carries inputs=1", "x264enc"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "fsync") {
		t.Errorf("a column no run measured is shown:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "r.html")
	if err := rep.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	for _, w := range []string{"<svg", "Delivered fps against inputs", "CPU against inputs", "a &lt;note&gt;", "carries inputs=1"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("page lacks %q", w)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(string(page), `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("page is not self-contained: has %q", bad)
		}
	}
}
