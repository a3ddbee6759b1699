package main

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// SRTConfig is the SRT listener for srt:// sources (hardware encoders
// across the WAN).
type SRTConfig struct {
	// Listen is the UDP address, default ":8890"; "" turns SRT off.
	Listen string `mapstructure:"listen"`
	// Latency is the receive latency offered to encoders, default 200ms:
	// how long a lost packet may take to be sent again. An encoder asking
	// for more gets more.
	Latency time.Duration `mapstructure:"latency"`
}

// srtProblems checks the srt keys, and that srt:// sources have a
// listener to reach.
func (c *Config) srtProblems() []error {
	var errs []error
	if c.SRT.Listen != "" {
		if _, _, err := net.SplitHostPort(c.SRT.Listen); err != nil {
			errs = append(errs, fmt.Errorf("srt.listen: %q is not host:port (e.g. \":8890\"; \"\" turns SRT off)", c.SRT.Listen))
		}
	}
	if l := c.SRT.Latency; l < 20*time.Millisecond || l > 10*time.Second {
		errs = append(errs, fmt.Errorf("srt.latency: %s: want 20ms to 10s (e.g. 200ms; 4 × the round trip on a lossy link)", l))
	}
	if c.SRT.Listen == "" {
		for i, s := range c.Sources {
			if strings.HasPrefix(s.URL, "srt://") {
				errs = append(errs, fmt.Errorf("sources[%d].url: srt:// needs the SRT listener, and srt.listen is \"\"", i))
			}
		}
	}
	return errs
}
