package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// quickBench are the flag values of `diemcau bench … --quick`: small
// pictures and short windows, for a first look or a slow machine. Flags
// given on the command line keep their values.
var quickBench = []struct{ flag, value string }{
	{"size", "320x180"},
	{"bitrate", "300"},
	{"out-bitrate", "400"},
	{"warmup", "3"},
	{"seconds", "8"},
	{"av-seconds", "5"},
	{"viewers", "2"},
}

// applyQuick sets the quick values of the flags not given.
func applyQuick(f *pflag.FlagSet) error {
	for _, q := range quickBench {
		if f.Changed(q.flag) {
			continue
		}
		if err := f.Set(q.flag, q.value); err != nil {
			return fmt.Errorf("--quick: --%s %s: %w", q.flag, q.value, err)
		}
	}
	return nil
}
