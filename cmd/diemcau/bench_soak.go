package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"diemcau/bench/harness"
	"diemcau/ingest/camsim"
)

// newBenchSoakCommand is `diemcau bench soak`: the server under faults
// for a long while, judged against limits (bench/harness/soak*.go).
func newBenchSoakCommand() *cobra.Command {
	var (
		o          harness.SoakOptions
		size       string
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "A live recorded session under faults for a long while: kills, drops, churn",
		Long: `soak runs the real server as a child process with a live recorded session
of --points camsim cameras (one process each, pulled over RTSP) and, for
--duration:

  - drops one camera in turn every 30 s (its process stopped, started
    again 5 s later on the same port);
  - keeps --viewers WHEP viewers of the composite joining and leaving;
  - makes a point leave the session, or join it again, every minute
    (PATCH of the session's points);
  - SIGKILLs the server --kills times at random moments (in the first two
    thirds, so the last third is one long stretch) and starts it again with
    the same config, archive and store.

It exits non-zero when a limit is broken:
  - every run folder verifies (archive verify with the signing key and the
    store's witness), and each kill left one run repaired as interrupted;
  - each kill cost each stream at most one part (archive.part, 1 s, of
    media not yet written, plus whole fragments cut by repair);
  - the composite, read over RTSP, never went longer than the slate delay
    (1 s) without a frame, outside the kill windows, once the moments the
    machine did not run the bench itself are taken out of each gap (a
    heartbeat in the bench measures them; both figures are reported);
  - goroutines, RSS and open fds (from /metrics) grew at most 5 % from the
    first to the last third of each long stretch between kills, after a
    warm-up.`,
		Example: `  diemcau bench soak --duration 30m --kills 20 --viewers 50 --json soak.json
  diemcau bench soak --duration 2m --kills 4 --viewers 5 --size 320x180 --warmup 15s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Width, o.Height, err = camsim.ParseSize(size); err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			if o.Binary, err = os.Executable(); err != nil {
				return fmt.Errorf("bench soak: finding this executable: %w", err)
			}
			o.Command = "diemcau " + strings.Join(os.Args[1:], " ")
			o.Out = cmd.OutOrStdout()
			if !noProgress {
				o.Progress = cmd.ErrOrStderr()
			}
			_, err = harness.Soak(cmd.Context(), o)
			return err
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 30*time.Minute, "length of the soak")
	f.IntVar(&o.Kills, "kills", 20, "SIGKILLs of the server, each followed by a restart")
	f.IntVar(&o.Viewers, "viewers", 50, "WHEP viewers of the composite, joining and leaving")
	f.IntVar(&o.Points, "points", 4, "cameras and points of the session")
	f.StringVar(&size, "size", "640x360", "cameras' and composite's picture size WxH")
	f.IntVar(&o.FPS, "fps", 15, "frames per second of the cameras and the composite")
	f.IntVar(&o.BitrateKbps, "bitrate", 800, "each camera's video bitrate, kbit/s")
	f.IntVar(&o.OutKbps, "out-bitrate", 1000, "the composite's bitrate, kbit/s")
	f.StringVar(&o.Encoder, "encoder", "auto", "force the server's encoder (pipeline.encoder)")
	f.StringVar(&o.Decoder, "decoder", "auto", "force the server's decoder (pipeline.decoder)")
	f.DurationVar(&o.Warmup, "warmup", time.Minute, "after each start, before resources are judged")
	f.DurationVar(&o.SampleEvery, "sample-every", 5*time.Second, "how often /metrics is read")
	f.DurationVar(&o.JudgeSpan, "judge-span", 3*time.Minute, "a stretch between kills this long after its warm-up has its growth judged (the last always is)")
	f.Float64Var(&o.Limits.Growth, "growth-limit", 0.05, "largest growth of goroutines, RSS and open fds, first to last third of a stretch")
	f.Float64Var(&o.Limits.GrowthRSS, "rss-growth-limit", 0, "largest growth of RSS (default: --growth-limit)")
	f.Int64Var(&o.Seed, "seed", 0, "seed of the kill moments and viewers' stays (0: the clock)")
	f.StringVar(&o.ArchiveDir, "archive", "", "archive here (the disk to judge); default the run folder")
	f.BoolVar(&o.Keep, "keep", false, "keep the run folder: config, logs, archive, store (kept anyway on failure)")
	f.StringVar(&o.JSON, "json", "", "write every figure to this file")
	f.BoolVar(&noProgress, "quiet", false, "no progress line on stderr")
	return cmd
}
