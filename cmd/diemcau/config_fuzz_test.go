package main

import (
	"errors"
	"regexp"
	"testing"
)

// problemKey is how every config problem starts: the YAML key it is about
// (sessions[0].points[1].source: …).
var problemKey = regexp.MustCompile(`^[a-z0-9_]+(\[[0-9]+\])?(\.[a-z0-9_]+(\[[0-9]+\])?)*: .`)

// FuzzConfig loads any YAML as `diemcau serve --config` does. Nothing may
// panic; a refused config says why, and each problem of an invalid one
// names its key; an accepted one validates again the same, and the
// settings each package receives from it (archive, WebRTC) pass that
// package's own Validate, so a config the server accepts cannot fail later
// at start. Seeds: the sample config, the end-to-end tests' config, a
// point node's, and configs with a typo'd key, a bad source and a size
// with units.
func FuzzConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, yaml []byte) {
		cfg, err := parseConfig("fuzz.yaml", yaml, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			var ce *ConfigError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					if !problemKey.MatchString(p.Error()) {
						t.Fatalf("problem does not name its key: %q", p.Error())
					}
				}
			}
			return
		}
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("accepted, then invalid: %v", errs)
		}
		if err := archiveConfig(cfg).Validate(); err != nil {
			t.Fatalf("accepted, but the archive refuses its settings: %v", err)
		}
		if _, err := whepConfig(cfg); err != nil {
			t.Fatalf("accepted, but WebRTC refuses its settings: %v", err)
		}
		for _, s := range cfg.Sources {
			_ = s.toStore()
		}
		for _, s := range cfg.Sessions {
			_ = s.toStore()
		}
	})
}
