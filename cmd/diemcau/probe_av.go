package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"diemcau/ingest/avsync"
)

// runProbeAV is `diemcau probe --av`: the lip-sync meter. Exit 0 pass, 1
// fail, 2 could not open.
func runProbeAV(cmd *cobra.Command, target string, seconds float64, token string, asJSON bool) error {
	if seconds < 0 || seconds > avsync.MaxSeconds {
		return &exitError{code: 2, err: fmt.Errorf("probe --av: --seconds %v: want at most %v (0 or unset: 10 s live, the whole file)", seconds, avsync.MaxSeconds)}
	}
	warmup, _ := cmd.Flags().GetFloat64("warmup")
	if warmup <= 0 || warmup > avsync.MaxSeconds {
		return &exitError{code: 2, err: fmt.Errorf("probe --av: --warmup %v: want more than 0 and at most %v", warmup, avsync.MaxSeconds)}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := avsync.Measure(cmd.Context(), target, avsync.Options{Seconds: seconds, Token: token, Log: log,
		Warmup: time.Duration(warmup * float64(time.Second))})
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	} else {
		writeAVTable(out, rep)
	}
	if err != nil { // could not open (or read nothing): 2, like probe
		return &exitError{code: 2, err: fmt.Errorf("probe --av: %w", err)}
	}
	if rep.Verdict == avsync.Fail {
		return &exitError{code: 1, err: errors.New("probe --av: " + strings.Join(rep.Reasons, "; "))}
	}
	return nil
}

// writeAVTable prints the meter's report for people.
func writeAVTable(w io.Writer, rep avsync.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "Input\t%s (%s)\n", rep.Input, rep.Kind)
	if rep.Video == nil && rep.Audio == nil && rep.Verdict == avsync.Fail {
		fmt.Fprintf(tw, "Result\t%s\n", strings.Join(rep.Reasons, "; "))
		return
	}
	fmt.Fprintf(tw, "Measured\t%.1f s of media\n", rep.Seconds)
	if rep.Clock != "" {
		fmt.Fprintf(tw, "Clock\t%s\n", rep.Clock)
	}
	if v := rep.Video; v != nil {
		fmt.Fprintf(tw, "Video\t%s %dx%d, %s fps declared, %.2f measured, %d frames, %d flashes\n",
			v.Codec, v.Width, v.Height, orUnknown(v.DeclaredFPS), v.MeasuredFPS, v.Frames, v.Flashes)
	} else {
		fmt.Fprintf(tw, "Video\tnone\n")
	}
	if a := rep.Audio; a != nil {
		fmt.Fprintf(tw, "Audio\t%s %d Hz %d ch: %.1f %% present (%.0f samples/s of %d, %.1f frames/s), %d beeps\n",
			a.Codec, a.SampleRate, a.Channels, a.Present, a.SamplesPerSecond, avsync.AudioRate, a.FramesPerSecond, a.Beeps)
		fmt.Fprintf(tw, "Level\tpeak %.1f dBFS, RMS %.1f dBFS\n", a.PeakDBFS, a.RMSDBFS)
	} else {
		fmt.Fprintf(tw, "Audio\tnone\n")
	}
	if o := rep.Offset; o != nil {
		fmt.Fprintf(tw, "A/V offset\t%s (sound %s)\n", offsetText(*o), lateOrEarly(o.Median))
		if len(rep.Points) > 1 {
			for _, p := range rep.Points {
				fmt.Fprintf(tw, "  %.0f Hz\t%s, flash at x %.2f y %.2f (w %.2f h %.2f)\n",
					p.ToneHz, offsetText(p.Offset), p.Region.X, p.Region.Y, p.Region.W, p.Region.H)
			}
		}
	} else {
		fmt.Fprintf(tw, "A/V offset\tn/a (no avsync pattern: flashes and beeps not found together)\n")
	}
	if v := rep.Video; v != nil {
		fmt.Fprintf(tw, "Video holes\t%s\n", gapsText(v.Holes))
		fmt.Fprintf(tw, "Freezes\t%s\n", gapsText(v.Freezes))
	}
	if a := rep.Audio; a != nil {
		fmt.Fprintf(tw, "Audio holes\t%s\n", gapsText(a.Holes))
	}
	fmt.Fprintf(tw, "Limits\taudio %+.0f … %+.0f ms of the picture (EBU R37), sound present ≥ %.0f %%\n",
		avsync.EarlyLimitMS, avsync.LateLimitMS, avsync.MinAudioPercent)
	verdict := strings.ToUpper(rep.Verdict)
	if len(rep.Reasons) > 0 {
		verdict += ": " + strings.Join(rep.Reasons, "; ")
	}
	fmt.Fprintf(tw, "Verdict\t%s\n", verdict)
}

func offsetText(o avsync.Offset) string {
	return fmt.Sprintf("%+.1f ms median (min %+.1f, max %+.1f, stdev %.1f, %d pairs)", o.Median, o.Min, o.Max, o.Stdev, o.Pairs)
}

func lateOrEarly(ms float64) string {
	switch {
	case ms >= 1:
		return "late"
	case ms <= -1:
		return "early"
	}
	return "with the picture"
}

func orUnknown(fps float64) string {
	if fps <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", fps)
}

// gapsText lists up to five gaps, then how many more.
func gapsText(gaps []avsync.Gap) string {
	if len(gaps) == 0 {
		return "none"
	}
	var parts []string
	for i, g := range gaps {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(gaps)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%.0f ms at %.2f s", g.Duration, g.At))
	}
	return fmt.Sprintf("%d: %s", len(gaps), strings.Join(parts, ", "))
}
