package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"diemcau/bench/harness"
	"diemcau/bench/relay"
	"diemcau/ingest/camsim"
)

func newBenchCommand() *cobra.Command {
	var (
		o               harness.Options
		size, output    string
		subSize         string
		seconds, warmup float64
		avSeconds       float64
		noProgress      bool
		quick           bool
	)
	cmd := &cobra.Command{
		Use:   "bench SCENARIO",
		Short: "Measure what this machine carries: relay, composite, record, session or nodes",
		Long: `bench runs a load scenario against the real server and prints a table.

Each run starts its own camsim and "diemcau serve" on loopback (or measures a
running server with --target), warms up, measures for --seconds, and stops
everything it started.

  relay      N cameras → M WHEP viewers each, passed through (--cameras, --viewers)
  composite  K cameras → one composite, read over RTSP, against the same
             elements as a bare gst-launch-1.0 pipeline (--inputs); with
             --sub each camera also sends a sub-stream (--sub-size) and the
             grid is measured without, then with, them in one run
  record     a live session of N points, archived (--streams)
  session    K points composited and recorded, M viewers of the composite and
             one return feed per point (--points, --viewers); the cameras send
             the avsync pattern, which times camera → WHEP viewer (p50/p95)
             and each output's A/V offset and sound (--av-seconds)
  nodes      a hub and N point nodes, each its own "diemcau serve": node i
             sends camera i to the hub over WHIP and plays its return feed
             back (WHEP); camera → hub composite → the node's return feed,
             p50/p95, and CPU per node (--nodes)
  soak       a live session under faults for --duration (SIGKILLs, camera
             drops, viewers and points coming and going), judged against
             limits: see diemcau bench soak --help

--sweep PARAM=V1,V2,… runs one measurement per value and reports the largest
load that held real time (delivered fps ≥ 98% of the target, nothing dropped
or lost). --json and --html write every figure, with the machine.`,
		Example: `  diemcau bench composite --inputs 4 --size 1280x720 --fps 30
  diemcau bench composite --sweep inputs=1,2,4 --json composite.json --html composite.html
  diemcau bench composite --sub --inputs 32 --size 1280x720 --sub-size 640x360
  diemcau bench relay --sweep viewers=50,100,200,300
  diemcau bench record --sweep streams=8,16,32 --archive /srv/archive-test
  diemcau bench session --points 4 --viewers 20 --target http://127.0.0.1:8080 --token T
  diemcau bench session --quick --json session.json
  diemcau bench nodes --sweep nodes=2,4,8 --size 320x180 --fps 15 --bitrate 300 --out-bitrate 500`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: harness.Scenarios(),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if quick {
				if err := applyQuick(cmd.Flags()); err != nil {
					return err
				}
			}
			if o.Width, o.Height, err = camsim.ParseSize(size); err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			if o.SubWidth, o.SubHeight, err = camsim.ParseSize(subSize); err != nil {
				return fmt.Errorf("--sub-size: %w", err)
			}
			if output != "" {
				if o.OutWidth, o.OutHeight, err = camsim.ParseSize(output); err != nil {
					return fmt.Errorf("--output: %w", err)
				}
			}
			if o.Binary, err = os.Executable(); err != nil {
				return fmt.Errorf("bench: finding this executable: %w", err)
			}
			o.Seconds = time.Duration(seconds * float64(time.Second))
			o.Warmup = time.Duration(warmup * float64(time.Second))
			o.AVSeconds = time.Duration(avSeconds * float64(time.Second))
			o.Command = "diemcau " + strings.Join(os.Args[1:], " ")
			o.Out = cmd.OutOrStdout()
			if !noProgress {
				o.Progress = cmd.ErrOrStderr()
			}
			_, err = harness.Bench(cmd.Context(), args[0], o)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Cameras, "cameras", 1, "relay: cameras")
	f.IntVar(&o.Viewers, "viewers", 10, "relay: viewers per camera; session: viewers of the composite")
	f.IntVar(&o.StepViewers, "step-viewers", 0, "relay: viewers added after the window for a second one; CPU and memory per viewer are the slope between the two")
	f.IntVar(&o.Senders, "senders", 0, "relay: the server's webrtc.senders (0: one per core; 1: one sender per stream)")
	f.IntVar(&o.Inputs, "inputs", 4, "composite: points in the composite")
	f.IntVar(&o.Streams, "streams", 8, "record: points archived")
	f.IntVar(&o.Points, "points", 4, "session: points")
	f.IntVar(&o.Nodes, "nodes", 2, "nodes: point nodes")
	f.StringVar(&o.Sweep, "sweep", "", "PARAM=V1,V2,…: one run per value (inputs, viewers, cameras, senders, streams, points or nodes)")
	f.StringVar(&size, "size", "1280x720", "cameras' picture size WxH")
	f.StringVar(&output, "output", "", "the composite's size WxH (default: --size)")
	f.IntVar(&o.FPS, "fps", 30, "frames per second of the cameras and the composite")
	f.IntVar(&o.BitrateKbps, "bitrate", 2000, "each camera's video bitrate, kbit/s")
	f.IntVar(&o.OutKbps, "out-bitrate", 2500, "the composite's bitrate, kbit/s")
	f.Float64Var(&seconds, "seconds", 15, "length of the measured window, s")
	f.Float64Var(&warmup, "warmup", 5, "warm-up before the window, s")
	f.Float64Var(&avSeconds, "av-seconds", 10, "session: media the lip-sync meter reads on each live output after the window, s")
	f.BoolVar(&quick, "quick", false, "a small, fast run: 320x180, 8 s window, 2 viewers (flags given keep their values)")
	f.StringVar(&o.JSON, "json", "", "write every figure and the machine to this file")
	f.StringVar(&o.HTML, "html", "", "write a page with charts (no external assets) to this file")
	f.StringVar(&o.Target, "target", "", "measure this running server (http://host:port) instead of starting one")
	f.StringVar(&o.Token, "token", "", "an admin token of --target")
	f.IntVar(&o.TargetPID, "target-pid", 0, "--target's process id on this machine (CPU and peak RSS from /proc; default: its /metrics)")
	f.IntVar(&o.TargetRTSPPort, "target-rtsp-port", 8554, "--target's rtsp.listen port")
	f.StringVar(&o.CamsimHost, "camsim-host", "127.0.0.1", "address camsim listens on (a --target must reach it)")
	f.StringVar(&o.Encoder, "encoder", "auto", "force the started server's encoder (pipeline.encoder)")
	f.StringVar(&o.Decoder, "decoder", "auto", "force the started server's decoder (pipeline.decoder)")
	f.StringVar(&o.ArchiveDir, "archive", "", "archive here (the disk to judge); default a temporary folder")
	f.BoolVar(&o.Keep, "keep", false, "keep each run's folder: config, logs, archive")
	f.BoolVar(&o.NoBaseline, "no-baseline", false, "composite: skip the bare gst-launch-1.0 pipeline")
	f.StringVar(&o.Low, "low", "", "session, composite: the server's pipeline.low_rendition (WxH@KBPS, e.g. 640x360@500): every composite is also encoded small; session reports viewers per rendition")
	f.BoolVar(&o.Sub, "sub", false, "composite: cameras also send a sub-stream (--sub-size); the grid is measured without, then with them, in one run")
	f.StringVar(&subSize, "sub-size", "640x360", "composite --sub: the cameras' sub-stream size WxH")
	f.BoolVar(&noProgress, "quiet", false, "no progress line on stderr")
	cmd.AddCommand(newRelayViewersCommand(), newBenchSoakCommand())
	return cmd
}

// newRelayViewersCommand is the viewers' process of bench/relay's own
// harness (relay.Config.LoadGen): `diemcau bench relay-viewers FLAGS`.
func newRelayViewersCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "relay-viewers",
		Short:              "WHEP viewers of the relay load generator (run by bench/relay)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return relay.LoadGenMain(cmd.Context(), args, os.Stdin, cmd.OutOrStdout())
		},
	}
}
