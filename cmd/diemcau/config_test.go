package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const validConfig = `
http: {listen: ":9080"}
rtsp: {listen: ":9554"}
archive: {root: ./a, segment: 2m, part: 500ms, min_free: 1GiB}
sources:
  - {id: tinh, name: "Điểm cầu Tỉnh", url: "rtsp://user:secret@192.0.2.10/stream1"}
  - {id: xa-a, url: "push://enc:secret@"}
sessions:
  - id: demo
    points:
      - {id: tinh, source: tinh, role: province, label: "UBND Tỉnh"}
      - {id: xa-a, source: xa-a}
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	return writeConfigIn(t, t.TempDir(), body)
}

func TestLoadConfigValid(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, validConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != ":9080" || cfg.Archive.Part.Milliseconds() != 500 || cfg.Archive.MinFree != 1<<30 {
		t.Fatalf("values not read: %+v", cfg)
	}
	s := cfg.Sessions[0]
	if s.Layout != "grid" || s.Output.Width != 1280 || s.Output.FPS != 30 || s.Start != "live" {
		t.Fatalf("session defaults not applied: %+v", s)
	}
	if s.Points[1].Role != "local" || s.Points[1].Label != "xa-a" {
		t.Fatalf("point defaults not applied: %+v", s.Points[1])
	}
	if !cfg.Archive.Fsync || cfg.Store != "./diemcau.db" {
		t.Fatal("top-level defaults not applied")
	}
}

// TestLoadConfigOpenOnPurpose: push:// without credentials and anonymous
// RTSP reading are accepted when the file says so, and only then.
func TestLoadConfigOpenOnPurpose(t *testing.T) {
	body := strings.Replace(validConfig, `{id: xa-a, url: "push://enc:secret@"}`, `{id: xa-a, url: "push://", allow_anonymous: true}`, 1)
	body = strings.Replace(body, `rtsp: {listen: ":9554"}`, `rtsp: {listen: ":9554", anonymous_read: true}`, 1)
	cfg, err := loadConfig(writeConfig(t, body), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sources[1].AllowAnonymous || !cfg.Sources[1].toStore().AllowAnonymous || !cfg.RTSP.AnonymousRead {
		t.Fatalf("not read: %+v %+v", cfg.Sources[1], cfg.RTSP)
	}
	cfg, err = loadConfig(writeConfig(t, validConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTSP.AnonymousRead || cfg.RTSP.ReadDigest {
		t.Fatalf("open by default: %+v", cfg.RTSP)
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, validConfig)
	t.Setenv("DIEMCAU_HTTP_LISTEN", ":7000")
	t.Setenv("DIEMCAU_RTSP_LISTEN", ":7554")
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != ":7000" {
		t.Fatalf("env should override file, got %q", cfg.HTTP.Listen)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	httpFlag := fs.String("http", "", "")
	_ = httpFlag
	if err := fs.Parse([]string{"--http", ":6000"}); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadConfig(file, map[string]*pflag.Flag{"http.listen": fs.Lookup("http")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != ":6000" || cfg.RTSP.Listen != ":7554" {
		t.Fatalf("flag should override env: http %q rtsp %q", cfg.HTTP.Listen, cfg.RTSP.Listen)
	}
}

func TestConfigProblemsNameTheKey(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown source", func(s string) string { return strings.Replace(s, "source: xa-a}", "source: xa-b}", 1) },
			[]string{`sessions[0].points[1].source: no source "xa-b"`}},
		{"bad id", func(s string) string { return strings.Replace(s, "id: tinh, name", "id: Tinh_1, name", 1) },
			[]string{`sources[0].id: "Tinh_1"`}},
		{"bad scheme hides password", func(s string) string {
			return strings.Replace(s, "rtsp://user:secret@", "http://user:secret@", 1)
		}, []string{"sources[0].url: want rtsp://"}},
		{"odd output", func(s string) string {
			return strings.Replace(s, "  - id: demo\n", "  - id: demo\n    output: {width: 641, height: 360}\n", 1)
		},
			[]string{"sessions[0].output: 641x360"}},
		{"duplicate point", func(s string) string {
			return strings.Replace(s, "{id: xa-a, source: xa-a}", "{id: tinh, source: xa-a}", 1)
		},
			[]string{`sessions[0].points[1].id: duplicate point "tinh"`}},
		{"encoder", func(s string) string { return s + "pipeline: {encoder: magic}\n" },
			[]string{`pipeline.encoder: "magic"`}},
		{"part longer than segment", func(s string) string { return strings.Replace(s, "segment: 2m", "segment: 100ms", 1) },
			[]string{"archive.part: 500ms is longer than segment (100ms)"}},
		{"push without credentials", func(s string) string { return strings.Replace(s, "push://enc:secret@", "push://", 1) },
			[]string{"sources[1].url: push:// needs the encoder's credentials"}},
		{"allow_anonymous on a camera", func(s string) string {
			return strings.Replace(s, "stream1\"}", "stream1\", allow_anonymous: true}", 1)
		}, []string{"sources[0].allow_anonymous: only push:// and srt:// sources"}},
		{"read_digest without read_user", func(s string) string {
			return strings.Replace(s, `rtsp: {listen: ":9554"}`, `rtsp: {listen: ":9554", read_digest: true}`, 1)
		}, []string{"rtsp.read_digest:"}},
		{"two problems at once", func(s string) string {
			return strings.Replace(strings.Replace(s, "layout", "layout", 1), "  - id: demo\n", "  - id: demo\n    layout: mosaic\n    start: soon\n", 1)
		}, []string{`sessions[0].layout: "mosaic"`, `sessions[0].start: "soon"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tc.edit(validConfig)), nil)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a ConfigError", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("message leaks the camera password:\n%s", msg)
			}
		})
	}
}

func TestUnknownKeyIsRefused(t *testing.T) {
	_, err := loadConfig(writeConfig(t, validConfig+"htpp: {listen: x}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "htpp") {
		t.Fatalf("err = %v, want it to name the unknown key", err)
	}
}

func TestDemoConfig(t *testing.T) {
	cfg, err := loadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Demo || len(cfg.Sources) != 4 || len(cfg.Sessions) != 1 || len(cfg.Sessions[0].Points) != 4 {
		t.Fatalf("demo config: %+v", cfg)
	}
	for _, s := range cfg.Sources {
		if !strings.HasPrefix(s.URL, "sim://") {
			t.Fatalf("demo source %s is not simulated", s.ID)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2GiB", 2 << 30, true}, {"500MB", 500e6, true}, {"1024", 1024, true},
		{"1.5 GiB", 3 << 29, true}, {"lots", 0, false}, {"-1GiB", 0, false},
	}
	for _, tc := range tests {
		got, err := parseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestSampleConfigIsValid(t *testing.T) {
	if _, err := loadConfig("../../configs/diemcau.yaml", nil); err != nil {
		t.Fatalf("configs/diemcau.yaml: %v", err)
	}
}
