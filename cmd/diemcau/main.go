// Command diemcau is the media server of an online citizen-reception
// session: RTSP in, one GStreamer composite, WebRTC (WHEP) and RTSP out, and a
// tamper-evident MP4 archive. See README.md and docs/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "dev"

// exitError carries a command's exit status (probe: 1 fail, 2 could not
// connect; archive verify: 1 problems found) without printing usage.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "diemcau:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "diemcau:", err)
	os.Exit(1)
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "diemcau",
		Short:         "Media server for online citizen reception: RTSP in, composite, WHEP and archive out",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCommand(),
		newCamsimCommand(),
		newProbeCommand(),
		newArchiveCommand(),
		newBenchCommand(),
		newVersionCommand(),
	)
	return root
}
