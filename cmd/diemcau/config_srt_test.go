package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// srt:// sources and the srt keys: defaults, and each problem named by its
// key, the passphrase never echoed.
func TestSRTConfig(t *testing.T) {
	const base = `
archive: {root: ./a}
sources:
  - {id: enc, url: "srt://:0123456789abcdef@"}
`
	cfg, err := loadConfig(writeConfig(t, base), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SRT.Listen != ":8890" || cfg.SRT.Latency != 200*time.Millisecond {
		t.Fatalf("srt defaults: %+v", cfg.SRT)
	}
	tests := []struct {
		name, body string
		want       string // "" valid
	}{
		{"anonymous on purpose", `{id: enc, url: "srt://", allow_anonymous: true}`, ""},
		{"anonymous by mistake", `{id: enc, url: "srt://"}`, "sources[0].url: srt:// without a passphrase"},
		{"passphrase too short", `{id: enc, url: "srt://:short@"}`, "sources[0].url: the SRT passphrase must be 10 to 79 characters (got 5)"},
		{"passphrase too long", `{id: enc, url: "srt://:` + strings.Repeat("x", 80) + `@"}`, "must be 10 to 79 characters (got 80)"},
		{"user name", `{id: enc, url: "srt://enc:0123456789abcdef@"}`, "sources[0].url: srt:// takes a passphrase, not a user name"},
		{"host", `{id: enc, url: "srt://:0123456789abcdef@192.0.2.1:8890"}`, "sources[0].url: srt:// takes only the passphrase"},
		{"srt off", `{id: enc, url: "srt://:0123456789abcdef@"}` + "\nsrt: {listen: \"\"}", "sources[0].url: srt:// needs the SRT listener"},
		{"bad listen", `{id: enc, url: "srt://:0123456789abcdef@"}` + "\nsrt: {listen: \"8890\"}", `srt.listen: "8890" is not host:port`},
		{"latency", `{id: enc, url: "srt://:0123456789abcdef@"}` + "\nsrt: {latency: 5ms}", "srt.latency: 5ms: want 20ms to 10s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := "archive: {root: ./a}\nsources:\n  - " + tc.body + "\n"
			_, err := loadConfig(writeConfig(t, body), nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "short@") {
				t.Errorf("the passphrase is echoed: %v", err)
			}
		})
	}
}
