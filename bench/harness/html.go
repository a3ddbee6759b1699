package harness

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// WriteHTML writes a page that needs nothing else: the machine, charts of
// fps and CPU against load (inline SVG), the table, and every run's notes.
func (rep *Report) WriteHTML(path string) error {
	var table bytes.Buffer
	rep.WriteTable(&table)
	data := struct {
		R      *Report
		Charts []template.HTML
		Table  string
	}{R: rep, Table: table.String()}
	runs := append([]*Run(nil), rep.Runs...)
	sort.Slice(runs, func(i, j int) bool { return runs[i].Load < runs[j].Load })
	if len(runs) > 1 {
		data.Charts = append(data.Charts, loadCharts(runs)...)
	}
	data.Charts = append(data.Charts, timeCharts(runs)...)
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// series is one line of a chart.
type series struct {
	name  string
	color string
	x, y  []float64
	dash  bool
}

func loadCharts(runs []*Run) []template.HTML {
	name := runs[0].LoadName
	var x []float64
	fps := series{name: "delivered fps (mean)", color: "#1565c0"}
	worst := series{name: "worst output fps", color: "#90caf9"}
	target := series{name: "98% of target", color: "#c62828", dash: true}
	cpu := map[string]*series{}
	colors := map[string]string{"server": "#2e7d32", "camsim": "#9e9e9e", "bench": "#ef6c00", "gst-launch (bare)": "#6a1b9a"}
	roles := []string{"server", "camsim", "bench", "gst-launch (bare)"}
	for _, role := range roles {
		cpu[role] = &series{name: role, color: colors[role]}
	}
	for _, r := range runs {
		l := float64(r.Load)
		x = append(x, l)
		if r.DeliveredFPS != nil {
			fps.x, fps.y = append(fps.x, l), append(fps.y, *r.DeliveredFPS)
		}
		if r.DeliveredFPSMin != nil {
			worst.x, worst.y = append(worst.x, l), append(worst.y, *r.DeliveredFPSMin)
		}
		target.x, target.y = append(target.x, l), append(target.y, 0.98*r.TargetFPS)
		for _, p := range r.Processes {
			if s := cpu[p.Role]; s != nil {
				s.x, s.y = append(s.x, l), append(s.y, p.CPU)
			}
		}
		if b := r.Baseline; b != nil {
			s := cpu["gst-launch (bare)"]
			s.x, s.y = append(s.x, l), append(s.y, b.CPU)
		}
	}
	var cpuSeries []series
	for _, role := range roles {
		if len(cpu[role].x) > 0 {
			cpuSeries = append(cpuSeries, *cpu[role])
		}
	}
	return []template.HTML{
		svgChart("Delivered fps against "+name, name, "fps", []series{fps, worst, target}),
		svgChart("CPU against "+name+" (cores; 1.0 = one core busy)", name, "cores", cpuSeries),
	}
}

// timeCharts show each second of every run's window, one line per run:
// a steady line is a machine that keeps up, a saw-tooth one that stalls.
func timeCharts(runs []*Run) []template.HTML {
	palette := []string{"#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#5d4037", "#9e9d24"}
	var fps, cpu []series
	for i, r := range runs {
		if len(r.Samples) < 2 {
			continue
		}
		name := fmt.Sprintf("%s=%d", r.LoadName, r.Load)
		f := series{name: name, color: palette[i%len(palette)]}
		c := f
		for _, s := range r.Samples {
			f.x, f.y = append(f.x, s.T), append(f.y, s.FPS)
			c.x, c.y = append(c.x, s.T), append(c.y, s.ServerCPU)
		}
		if slices.ContainsFunc(f.y, func(v float64) bool { return v > 0 }) {
			fps = append(fps, f) // record counts no frames as it goes
		}
		cpu = append(cpu, c)
	}
	var out []template.HTML
	if len(fps) > 0 {
		out = append(out, svgChart("fps at the output, each second of the window", "seconds", "fps", fps))
	}
	if len(cpu) > 0 {
		out = append(out, svgChart("Server CPU, each second of the window (cores)", "seconds", "cores", cpu))
	}
	return out
}

// svgChart draws line series on shared axes, with a legend.
func svgChart(title, xLabel, yLabel string, ss []series) template.HTML {
	const w, h, left, right, top, bottom = 640.0, 320.0, 56.0, 16.0, 40.0, 48.0
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range ss {
		for i := range s.x {
			xmin, xmax, ymax = math.Min(xmin, s.x[i]), math.Max(xmax, s.x[i]), math.Max(ymax, s.y[i])
		}
	}
	if math.IsInf(xmin, 0) {
		return ""
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	ymax = niceCeil(ymax * 1.1)
	px := func(x float64) float64 { return left + (x-xmin)/(xmax-xmin)*(w-left-right) }
	py := func(y float64) float64 { return h - bottom - y/ymax*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img"><title>%s</title>`, w, h, w, h, esc(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14" font-weight="bold">%s</text>`, left, esc(title))
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>`,
			left, w-right, py(y), py(y), left-6, py(y)+4, trimFloat(y))
	}
	// Loads are labelled where they were measured; seconds evenly.
	xs := map[float64]bool{}
	for _, s := range ss {
		for _, x := range s.x {
			xs[x] = true
		}
	}
	if xLabel == "seconds" || len(xs) > 12 {
		xs = map[float64]bool{}
		step := niceCeil((xmax - xmin) / 6)
		for x := math.Ceil(xmin/step) * step; x <= xmax; x += step {
			xs[x] = true
		}
	}
	for x := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, px(x), h-bottom+16, trimFloat(x))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">%s</text>`, (left+w-right)/2, h-8, esc(xLabel))
	if yLabel != "" {
		fmt.Fprintf(&b, `<text x="14" y="%.1f" font-size="12" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s</text>`, (top+h-bottom)/2, (top+h-bottom)/2, esc(yLabel))
	}
	for i, s := range ss {
		var pts []string
		for j := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[j]), py(s.y[j])))
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.color, dash, strings.Join(pts, " "))
		if !s.dash && len(s.x) <= 40 {
			for j := range s.x {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(s.x[j]), py(s.y[j]), s.color)
			}
		}
		lx := left + 8 + float64(i%3)*190
		ly := top - 4 + float64(i/3)*14
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="3" fill="%s"/><text x="%.1f" y="%.1f" font-size="11">%s</text>`, lx, ly-3, s.color, lx+16, ly+1, esc(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped text only
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func esc(s string) string { return template.HTMLEscapeString(s) }

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"gib": func(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) },
	"mbf": func(b uint64) float64 { return float64(b) / 1e6 },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diemcau bench {{.R.Scenario}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.4em} pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:1em} svg{background:#fff;border:1px solid #eee}
dt{font-weight:bold} .ok{color:#2e7d32} .bad{color:#c62828}
</style></head><body>
<h1>diemcau bench {{.R.Scenario}}</h1>
<p>{{.R.StartedAt.Format "2006-01-02 15:04 UTC"}} · <code>{{.R.Command}}</code></p>
<p>{{.R.Machine.CPUModel}}, {{.R.Machine.Cores}} cores, {{gib .R.Machine.MemoryBytes}}, kernel {{.R.Machine.Kernel}},
GStreamer {{.R.Machine.GStreamer}}, {{.R.Machine.GoVersion}} · encoder <b>{{.R.Encoder.Element}}</b>{{if .R.Encoder.Hardware}} (hardware){{end}},
decoder <b>{{.R.Decoder.Element}}</b>{{if .R.Decoder.Hardware}} (hardware){{end}} · load average {{printf "%.2f" .R.Machine.LoadAvg1}} at start
(other work on the machine shows here).</p>
{{with .R.Sweep}}<p style="font-size:1.2em">{{if .Carries}}<b class="ok">This machine carries {{.Param}}={{.Carries}} in real time</b>
{{else}}<b class="bad">No {{.Param}} load held real time</b>{{end}} (delivered fps ≥ 98% of the target, nothing dropped or lost).</p>{{end}}
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
<h2>Figures</h2><pre>{{.Table}}</pre>
<h2>Runs</h2>{{range .R.Runs}}<h3>{{.LoadName}}={{.Load}}: {{if .RealTime}}<span class="ok">real time</span>{{else}}<span class="bad">not real time</span>{{end}}</h3>
{{if .NotRealTime}}<p>{{.NotRealTime}}</p>{{end}}
<dl>{{range .Processes}}<dt>{{.Role}} (pid {{.PID}})</dt><dd>{{printf "%.3f" .CPU}} cores (user {{printf "%.3f" .CPUUser}}, system {{printf "%.3f" .CPUSys}}), peak RSS {{printf "%.0f" (mbf .PeakRSS)}} MB</dd>{{end}}
{{with .Baseline}}<dt>bare gst-launch-1.0</dt><dd>{{printf "%.3f" .CPU}} cores, {{printf "%.1f" .FPS}} fps; ours/bare CPU {{printf "%.2f" .CPURatio}}; audio beside it {{printf "%.3f" .AudioCPU}} cores, ours/bare+audio {{printf "%.2f" .FairCPURatio}}<br><code>{{.Pipeline}}</code><br><code>{{.AudioPipeline}}</code></dd>{{end}}</dl>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
