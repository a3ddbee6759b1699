package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"diemcau/ingest"
)

// newProbeCommand is `diemcau probe`: the check a technician runs on a
// camera before a session. Exit 0 pass (or warn), 1 failed checks, 2 could
// not connect.
func newProbeCommand() *cobra.Command {
	var (
		seconds   float64
		asJSON    bool
		transport string
		av        bool
		token     string
		sub       string
	)
	cmd := &cobra.Command{
		Use:   "probe [--seconds N] [--json] [--transport auto|tcp|udp] [--sub SUB_URL] URL | probe --av [--seconds N] [--token T] [--json] URL|FILE",
		Short: "Check one RTSP feed (codec, fps, GOP, audio, browser playback), or with --av its lip sync and sound",
		Long: `Connects to one RTSP URL, reads it for a few seconds and reports codec,
profile, size, fps, GOP, bitrate, B-frames and audio codec, whether browsers
can play it without transcoding, and checks with a verdict. With --sub it
reads the camera's sub-stream at the same time and reports it too (under
"sub" in JSON); a sub-stream that fails its checks fails the verdict (its
warnings, e.g. no sound or a low bitrate, do not count).

With --av it is the lip-sync meter, on an rtsp:// URL, a WHEP endpoint
(http(s)://HOST/whep/…, with --token or $DIEMCAU_TOKEN) or a recorded .mp4:
the A/V offset of the avsync pattern (camsim --pattern avsync,
sim://NAME?pattern=avsync), video fps, audio present against its expected
rate, audio level, holes and freezes per track. It fails when the offset is
outside EBU R37 (audio 40 ms early to 60 ms late), when less than 98 % of
the sound arrives, or when there is no picture or no sound. --seconds
defaults to 10 for live inputs and the whole file (up to 600 s) for files.

Exit status: 0 pass (warnings included), 1 failed checks, 2 could not connect.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &exitError{code: 2, err: fmt.Errorf("probe: want one RTSP URL (or with --av a WHEP URL or a file), got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if av && sub != "" {
				return &exitError{code: 2, err: errors.New("probe: --sub measures a camera's two streams; it does not go with --av")}
			}
			if av {
				if !cmd.Flags().Changed("seconds") {
					seconds = 0 // the meter's own default
				}
				if token == "" {
					token = os.Getenv("DIEMCAU_TOKEN")
				}
				return runProbeAV(cmd, args[0], seconds, token, asJSON)
			}
			if seconds <= 0 || seconds > 600 {
				return &exitError{code: 2, err: fmt.Errorf("probe: --seconds %v: want more than 0 and at most 600", seconds)}
			}
			d := time.Duration(seconds * float64(time.Second))
			opts := ingest.ProbeOptions{Transport: transport}
			rep, err := ingest.ProbePair(cmd.Context(), args[0], sub, d, opts, opts)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return jerr
				}
			} else {
				writeProbeTable(out, rep)
				if rep.Sub != nil {
					fmt.Fprintln(out, "\nSub-stream")
					writeProbeTable(out, *rep.Sub)
				}
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if rep.Verdict == ingest.CheckFail {
				return &exitError{code: 1, err: errors.New("probe: the feed failed checks")}
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&seconds, "seconds", ingest.DefaultProbeDuration.Seconds(), "how long to read the feed, from its first frame")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&transport, "transport", ingest.TransportAuto, "RTP transport: auto, tcp or udp")
	cmd.Flags().StringVar(&sub, "sub", "", "the camera's sub-stream (rtsp://…), read and reported beside URL")
	cmd.Flags().BoolVar(&av, "av", false, "measure lip sync and sound (the avsync pattern), on RTSP, WHEP or a file")
	cmd.Flags().StringVar(&token, "token", "", "WHEP bearer token for --av (default $DIEMCAU_TOKEN)")
	cmd.Flags().Float64("warmup", 1, "--av on a live input: seconds read and dropped before measuring (11 for a diemcau RTSP output as players see it after its first sender report)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: 2, err: err}
	})
	return cmd
}

// writeProbeTable prints the report for people: the feed, then one line per
// check, then the verdict.
func writeProbeTable(w io.Writer, rep ingest.ProbeReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "URL\t%s\n", rep.URL)
	if !rep.Connected {
		fmt.Fprintf(tw, "Result\tcould not connect: %s\n", rep.Error)
		tw.Flush()
		return
	}
	if rep.Transport != "" {
		fmt.Fprintf(tw, "Transport\t%s\n", rep.Transport)
	}
	fmt.Fprintf(tw, "Read\t%.1f s\n", rep.Seconds)
	if v := rep.Video; v != nil {
		bf := "no B-frames"
		if v.BFrames {
			bf = "B-frames"
		}
		gop := "GOP not measured"
		if v.GOPSeconds > 0 {
			gop = fmt.Sprintf("GOP %.1f s", v.GOPSeconds)
		}
		fmt.Fprintf(tw, "Video\t%s %s %dx%d, %.1f fps, %s, %.0f kbps, %s\n",
			v.Codec, v.Profile, v.Width, v.Height, v.FPS, gop, v.BitrateKbps, bf)
	} else {
		fmt.Fprintf(tw, "Video\tnone\n")
	}
	if a := rep.Audio; a != nil {
		fmt.Fprintf(tw, "Audio\t%s %d Hz, %d ch\n", a.Codec, a.SampleRate, a.Channels)
	} else {
		fmt.Fprintf(tw, "Audio\tnone\n")
	}
	fmt.Fprintf(tw, "Bitrate\t%.0f kbps\n", rep.BitrateKbps)
	fmt.Fprintf(tw, "Packets lost\t%d\n", rep.PacketsLost)
	play := "yes, plays without transcoding"
	if !rep.BrowserPlayable {
		var why []string
		for _, c := range rep.Checks {
			if c.Result != ingest.CheckPass && (c.Name == "codec" || c.Name == "bframes" || c.Name == "audio" || c.Name == "video") {
				why = append(why, c.Name)
			}
		}
		play = "no, needs transcoding"
		if len(why) > 0 {
			play += " (see " + strings.Join(why, ", ") + ")"
		}
	}
	fmt.Fprintf(tw, "Browsers\t%s\n", play)
	if rep.Error != "" {
		fmt.Fprintf(tw, "Error\t%s\n", rep.Error)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "CHECK\tRESULT\tDETAIL\n")
	for _, c := range rep.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Result, c.Message)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "Verdict\t%s\n", strings.ToUpper(string(rep.Verdict)))
	tw.Flush()
}
