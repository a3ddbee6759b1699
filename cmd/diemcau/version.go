package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"diemcau/pipeline/gst"
)

// newVersionCommand prints the version, the GStreamer version and the H.264
// encoder and decoder this machine would use, each chosen by trial.
func newVersionCommand() *cobra.Command {
	var encoder, decoder string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Version, GStreamer version, chosen encoder and decoder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "diemcau %s\n", version)
			fmt.Fprintf(out, "gstreamer %s\n", gst.Version())
			reg := gst.NewRegistry(slog.New(slog.DiscardHandler))
			enc, err := gst.SelectEncoder(ctx, reg, encoder, gst.EncoderParams{Width: 1280, Height: 720, FPS: 30, BitrateKbps: 2500}, nil)
			fmt.Fprintf(out, "encoder %s\n", describeChoice(enc, err))
			dec, derr := gst.SelectDecoder(ctx, reg, decoder, nil)
			fmt.Fprintf(out, "decoder %s\n", describeChoice(dec, derr))
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if derr != nil {
				return &exitError{code: 1, err: derr}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&encoder, "encoder", "auto", "encoder to try: auto | x264 | openh264 | nvh264 | va | vaapi | qsv | v4l2")
	cmd.Flags().StringVar(&decoder, "decoder", "auto", "decoder to try: auto | avdec | nvh264 | va | vaapi | qsv | v4l2 | openh264")
	return cmd
}

func describeChoice(c gst.Choice, err error) string {
	if err != nil {
		return "none"
	}
	kind := "software"
	if c.Hardware {
		kind = "hardware"
	}
	return fmt.Sprintf("%s (%s)", c.Element, kind)
}
