package harness

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report for people: the machine, one row per run
// and, for a sweep, the answer.
func (rep *Report) WriteTable(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "diemcau bench %s · %s, %d cores, %.0f GiB · GStreamer %s · encoder %s%s, decoder %s%s · load average %.2f at start\n",
		rep.Scenario, m.CPUModel, m.Cores, float64(m.MemoryBytes)/(1<<30), m.GStreamer,
		rep.Encoder.Element, hw(rep.Encoder.Hardware), rep.Decoder.Element, hw(rep.Decoder.Hardware), m.LoadAvg1)
	rows := [][]string{{"load", "real time", "server CPU", "server RSS", "camsim CPU", "bench CPU", "fps", "worst fps",
		"mixer fps", "dropped", "missing", "RTP lost", "lat p50/p95 ms", "frame gap p99 ms", "1st frame ms", "MB/s written", "fsync p99 ms", "ours/bare CPU", "ours/bare+audio", "load avg"}}
	for _, r := range rep.Runs {
		rows = append(rows, []string{fmt.Sprintf("%s=%d", r.LoadName, r.Load), verdict(r), f2p(r.ServerCPU), mbU(r.ServerPeakRSS),
			procCPU(r, "camsim"), procCPU(r, "bench"), f1p(r.DeliveredFPS), f1p(r.DeliveredFPSMin), f1p(r.MixerFPS),
			uP(r.DroppedFrames), uP(r.OutputMissingFrames), uP(r.RTPLost), latency(r.LatencyMs), f1p(r.FrameIntervalMs.P99),
			f0p(r.FirstFrameMs), mbps(r.BytesWrittenPerS), f1p(r.FsyncP99Ms), ratio(r.Baseline), fairRatio(r.Baseline), f1p(&r.LoadAvg1)})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range dropEmptyColumns(rows) {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	for _, r := range rep.Runs {
		if r.Error != "" {
			fmt.Fprintf(w, "%s=%d failed: %s\n", r.LoadName, r.Load, r.Error)
		} else if !r.RealTime {
			fmt.Fprintf(w, "%s=%d not real time: %s\n", r.LoadName, r.Load, r.NotRealTime)
		}
		if r.Viewers != nil {
			v := r.Viewers
			fmt.Fprintf(w, "%s=%d viewers: %d of %d connected in %.1f s, %.2f Mbit/s each, load generator %.2f cores, %d starved\n",
				r.LoadName, r.Load, v.Connected, v.Total, v.ConnectS, v.MbpsEach, v.LoadGenCPU, v.Starved)
		}
		for _, p := range r.Processes {
			if p.Role == "server" {
				writeThreads(w, fmt.Sprintf("%s=%d server %.2f cores:", r.LoadName, r.Load, p.CPU), p.Threads)
			}
		}
		if b := r.Baseline; b != nil {
			fmt.Fprintf(w, "%s=%d bare gst-launch: %.2f cores (pictures) + %.2f (audio), %.1f fps, peak RSS %s\n",
				r.LoadName, r.Load, b.CPU, b.AudioCPU, b.FPS, mb(b.PeakRSS))
			writeThreads(w, fmt.Sprintf("%s=%d bare pictures:", r.LoadName, r.Load), b.Threads)
		}
		if c := r.WithoutSub; c != nil {
			onSub := "?"
			if r.OnSub != nil {
				onSub = fmt.Sprint(*r.OnSub)
			}
			rt := "real time"
			if !c.RealTime {
				rt = "NOT real time: " + c.NotRealTime
			}
			fmt.Fprintf(w, "%s=%d with sub-streams (%s of %d points on them): %s cores, %s fps · without: %s cores, %s fps, %s (load avg %.1f)\n",
				r.LoadName, r.Load, onSub, r.Params.Inputs, f2p(r.ServerCPU), f1p(r.DeliveredFPS), f2p(c.ServerCPU), f1p(c.DeliveredFPS), rt, c.LoadAvg1)
		}
		writeSessionAV(w, r)
		writeNodes(w, r)
		writeRelayStep(w, r)
	}
	if s := rep.Sweep; s != nil {
		if s.Carries > 0 {
			fmt.Fprintf(w, "this machine carries %s=%d in real time", s.Param, s.Carries)
		} else {
			fmt.Fprintf(w, "no load held real time (smallest: %s=%d)", s.Param, s.Values[0])
		}
		if s.LargestHeld != s.Carries {
			fmt.Fprintf(w, " (%s=%d held too, after a step that did not)", s.Param, s.LargestHeld)
		}
		fmt.Fprintln(w)
	}
}

func hw(h bool) string {
	if h {
		return " (hardware)"
	}
	return ""
}

func verdict(r *Run) string {
	switch {
	case r.Error != "":
		return "error"
	case r.RealTime:
		return "yes"
	}
	return "NO"
}

func procCPU(r *Run, role string) string {
	for _, p := range r.Processes {
		if p.Role == role {
			return fmt.Sprintf("%.2f", p.CPU)
		}
	}
	return "–"
}

func f0p(v *float64) string { return fp(v, "%.0f") }
func f1p(v *float64) string { return fp(v, "%.1f") }
func f2p(v *float64) string { return fp(v, "%.2f") }

func fp(v *float64, f string) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf(f, *v)
}

func uP(v *uint64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprint(*v)
}

func mb(b uint64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

func mbU(v *uint64) string {
	if v == nil {
		return "–"
	}
	return mb(*v)
}

func mbps(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *v/1e6)
}

func latency(p Percentiles) string {
	if p.P50 == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f/%.1f", *p.P50, deref(p.P95))
}

func ratio(b *Baseline) string {
	if b == nil || b.CPURatio == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", b.CPURatio)
}

func fairRatio(b *Baseline) string {
	if b == nil || b.FairCPURatio == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", b.FairCPURatio)
}

// dropEmptyColumns leaves out the columns no run has a figure in (the
// scenario does not measure them), so the table fits a terminal.
func dropEmptyColumns(rows [][]string) [][]string {
	keep := make([]bool, len(rows[0]))
	for c := range keep {
		for _, row := range rows[1:] {
			keep[c] = keep[c] || row[c] != "–"
		}
	}
	out := make([][]string, len(rows))
	for i, row := range rows {
		for c, cell := range row {
			if keep[c] {
				out[i] = append(out[i], cell)
			}
		}
	}
	return out
}
