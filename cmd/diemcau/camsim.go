package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"diemcau/ingest/camsim"
)

func newCamsimCommand() *cobra.Command {
	var (
		cfg     camsim.Config
		size    string
		subSize string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "camsim",
		Short: "Simulated IP cameras: an RTSP server with /cam1 … /camN (H.264, optional audio)",
		Long: `camsim serves simulated IP cameras over RTSP at rtsp://ADDR/cam1 … /camN.

By default every camera replays one pre-encoded loop (cheap: dozens of
cameras on two cores); --live encodes each camera in real time with its name
and the wall clock burnt in. --drop-after and --stall-after inject faults,
--user/--pass require credentials, for testing what reads the cameras.
--sub-size WxH gives every camera a sub-stream at /camN/sub (the same
picture smaller, a third of the bitrate, no sound), as IP cameras offer
for small tiles (a source's sub_url).

--pattern avsync sends the lip-sync pattern: at the start of every second of
media time a white flash (about 100 ms) and a 100 ms beep with the same
timestamp, each camera with its own tone (cam1 1000 Hz, cam2 1100 Hz, …
cam16 2500 Hz) and in turn: camera i of N flashes (i-1)/N of a second into
each second of the wall clock. It turns audio on; measure it with
diemcau probe --av.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, h, err := camsim.ParseSize(size)
			if err != nil {
				return err
			}
			cfg.Width, cfg.Height = w, h
			if subSize != "" {
				if cfg.SubWidth, cfg.SubHeight, err = camsim.ParseSize(subSize); err != nil {
					return fmt.Errorf("--sub-size: %w", err)
				}
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			sim, err := camsim.New(cfg, log)
			if err != nil {
				return err
			}
			return sim.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", camsim.DefaultListen, "RTSP listen address")
	f.IntVar(&cfg.Cameras, "cameras", camsim.DefaultCameras, "number of cameras (/cam1 … /camN)")
	f.StringVar(&size, "size", "1280x720", "picture size WxH")
	f.StringVar(&subSize, "sub-size", "", "also serve a sub-stream per camera at /camN/sub, WxH (e.g. 640x360)")
	f.IntVar(&cfg.FPS, "fps", camsim.DefaultFPS, "frames per second")
	f.IntVar(&cfg.BitrateKbps, "bitrate", camsim.DefaultBitrateKbps, "video bitrate in kbit/s")
	f.BoolVar(&cfg.Audio, "audio", false, "add a sine tone")
	f.StringVar(&cfg.AudioCodec, "audio-codec", "opus", "audio codec: opus or aac")
	f.StringVar(&cfg.Pattern, "pattern", "", "test pattern: avsync (flash + beep once a second; implies --audio)")
	f.BoolVar(&cfg.Live, "live", false, "encode in real time with the camera name and a clock burnt in")
	f.IntVar(&cfg.LoopSeconds, "loop-seconds", 2, "length of the replayed loop")
	f.DurationVar(&cfg.DropAfter, "drop-after", 0, "close every session and refuse new ones after this long (fault injection)")
	f.DurationVar(&cfg.StallAfter, "stall-after", 0, "stop sending packets but keep connections after this long (fault injection)")
	f.StringVar(&cfg.User, "user", "", "require this user name (Basic and Digest auth)")
	f.StringVar(&cfg.Pass, "pass", "", "password for --user")
	f.StringVar(&cfg.UDPRTPAddress, "udp-rtp", "", "also offer UDP transport: RTP address, e.g. :8000 (needs --udp-rtcp)")
	f.StringVar(&cfg.UDPRTCPAddress, "udp-rtcp", "", "RTCP address for UDP transport, e.g. :8001")
	f.BoolVarP(&verbose, "verbose", "v", false, "log connections and sessions")
	return cmd
}
