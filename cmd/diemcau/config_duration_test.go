package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
)

func TestConfigDurationAndAuditRetention(t *testing.T) {
	withSession := func(line string) string {
		return strings.Replace(validConfig, "  - id: demo\n", "  - id: demo\n    "+line+"\n", 1)
	}
	for _, tc := range []struct {
		name          string
		body          string
		wantDuration  time.Duration
		wantRetention time.Duration
		wantErr       string // "" valid
	}{
		{"defaults", validConfig, 0, store.DefaultAuditRetention, ""},
		{"duration read", withSession("duration: 2h30m"), 150 * time.Minute, store.DefaultAuditRetention, ""},
		{"a whole day", withSession("duration: 24h"), 24 * time.Hour, store.DefaultAuditRetention, ""},
		{"retention read", validConfig + "audit: {retention: 43800h}\n", 0, 43800 * time.Hour, ""},
		{"retention 0 keeps forever", validConfig + "audit: {retention: 0}\n", 0, 0, ""},
		{"over a day", withSession("duration: 25h"), 0, 0, "sessions[0].duration: 25h0m0s: want 1m to 24h"},
		{"negative", withSession("duration: -1h"), 0, 0, "sessions[0].duration: -1h0m0s: want 1m to 24h"},
		{"a bare number", withSession("duration: 90"), 0, 0, "sessions[0].duration: 90ns: want 1m to 24h"},
		{"not a duration", withSession("duration: two hours"), 0, 0, "duration"},
		{"retention under a day", validConfig + "audit: {retention: 1h}\n", 0, 0, "audit.retention: 1h0m0s: 0 keeps forever, otherwise at least 24h"},
		{"negative retention", validConfig + "audit: {retention: -24h}\n", 0, 0, "audit.retention: -24h0m0s"},
		{"unknown audit key", validConfig + "audit: {retension: 24h}\n", 0, 0, "retension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(writeConfig(t, tc.body), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Sessions[0].Duration; got != tc.wantDuration {
				t.Errorf("duration = %v, want %v", got, tc.wantDuration)
			}
			if got := cfg.Sessions[0].toStore().Duration; got != tc.wantDuration {
				t.Errorf("stored duration = %v, want %v", got, tc.wantDuration)
			}
			if cfg.Audit.Retention != tc.wantRetention {
				t.Errorf("audit.retention = %v, want %v", cfg.Audit.Retention, tc.wantRetention)
			}
		})
	}
	var ce *ConfigError
	if _, err := loadConfig(writeConfig(t, validConfig+"audit: {retention: 2h}\n"), nil); !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConfigError", err)
	}
	// The environment reaches the new key too.
	t.Setenv("DIEMCAU_AUDIT_RETENTION", "48h")
	cfg, err := loadConfig(writeConfig(t, validConfig), nil)
	if err != nil || cfg.Audit.Retention != 48*time.Hour {
		t.Fatalf("DIEMCAU_AUDIT_RETENTION: %v, %v", cfg, err)
	}
}

func TestSampleConfigHasDurationAndRetention(t *testing.T) {
	cfg, err := loadConfig("../../configs/diemcau.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sessions[0].Duration != 150*time.Minute || cfg.Audit.Retention != 400*24*time.Hour {
		t.Fatalf("sample config: duration %v, audit.retention %v", cfg.Sessions[0].Duration, cfg.Audit.Retention)
	}
}
