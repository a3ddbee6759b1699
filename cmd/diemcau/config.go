package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"diemcau/control/store"
	srtin "diemcau/ingest/srt"
)

// Config is the whole configuration file (docs/configuration.md). Only
// cmd/ knows viper; each package gets its own Config built from this one.
type Config struct {
	HTTP     HTTPConfig      `mapstructure:"http"`
	RTSP     RTSPConfig      `mapstructure:"rtsp"`
	SRT      SRTConfig       `mapstructure:"srt"` // config_srt.go
	Hub      HubConfig       `mapstructure:"hub"` // config_outputs.go: set on a point node
	WebRTC   WebRTCConfig    `mapstructure:"webrtc"`
	Auth     AuthConfig      `mapstructure:"auth"`
	Pipeline PipelineConfig  `mapstructure:"pipeline"`
	Archive  ArchiveConfig   `mapstructure:"archive"`
	Audit    AuditConfig     `mapstructure:"audit"`
	Store    string          `mapstructure:"store"`
	Sources  []SourceConfig  `mapstructure:"sources"`
	Sessions []SessionConfig `mapstructure:"sessions"`

	// Demo is true when no config file was given: the embedded demo runs.
	Demo bool `mapstructure:"-"`
}

// HTTPConfig is the control plane's listener.
type HTTPConfig struct {
	HTTPLimitsConfig `mapstructure:",squash"` // the limits: config_limits.go

	Listen string    `mapstructure:"listen"`
	TLS    TLSConfig `mapstructure:"tls"`
}

// TLSConfig turns on HTTPS when both files are set.
type TLSConfig struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
}

// RTSPConfig is the RTSP server (push ingest and re-serve).
type RTSPConfig struct {
	RTSPLimitsConfig `mapstructure:",squash"` // the limits: config_limits.go

	Listen string `mapstructure:"listen"`
	// ReadUser and ReadPass are one more login for readers of the
	// re-served feeds (/sources, /sessions), besides API and invite
	// tokens; empty: none.
	ReadUser string `mapstructure:"read_user"`
	ReadPass string `mapstructure:"read_pass"`
	// ReadDigest offers Digest to readers too (then token logins need a
	// client that sends Basic); needs read_user.
	ReadDigest bool `mapstructure:"read_digest"`
	// AnonymousRead lets anyone who reaches the port read every feed.
	AnonymousRead bool `mapstructure:"anonymous_read"`
}

// WebRTCConfig is the ICE setup handed to pion and to browsers.
type WebRTCConfig struct {
	WebRTCLimitsConfig `mapstructure:",squash"` // the limits: config_limits.go

	UDPPort    int      `mapstructure:"udp_port"`
	PublicIPs  []string `mapstructure:"public_ips"`
	ICEServers []string `mapstructure:"ice_servers"`
}

// AuthConfig lists operator credentials by hash.
type AuthConfig struct {
	Tokens []TokenConfig `mapstructure:"tokens"`
}

// TokenConfig is one operator credential; the token itself is never stored.
type TokenConfig struct {
	Name   string `mapstructure:"name"`
	Role   string `mapstructure:"role"`
	SHA256 string `mapstructure:"sha256"`
}

// PipelineConfig forces a codec element or leaves the choice to trial.
type PipelineConfig struct {
	Encoder string `mapstructure:"encoder"`
	Decoder string `mapstructure:"decoder"`
	// LowRendition is every composite's second, smaller encoding
	// ("640x360@500"; "" or "off": none): low_rendition.go.
	LowRendition string `mapstructure:"low_rendition"`
}

// ArchiveConfig is the recorder's.
type ArchiveConfig struct {
	Root       string        `mapstructure:"root"`
	Segment    time.Duration `mapstructure:"segment"`
	Part       time.Duration `mapstructure:"part"`
	Fsync      bool          `mapstructure:"fsync"`
	Retention  time.Duration `mapstructure:"retention"`
	MinFree    ByteSize      `mapstructure:"min_free"`
	SigningKey string        `mapstructure:"signing_key"`
}

// AuditConfig is how long the audit log is kept.
type AuditConfig struct {
	// Retention: entries older are deleted (at start, then daily); 0 keeps
	// them forever.
	Retention time.Duration `mapstructure:"retention"`
}

// SourceConfig is one camera or encoder.
type SourceConfig struct {
	ID   string `mapstructure:"id"`
	Name string `mapstructure:"name"`
	URL  string `mapstructure:"url"`
	// SubURL is the camera's sub-stream (rtsp://), decoded for small tiles.
	SubURL    string `mapstructure:"sub_url"`
	Transport string `mapstructure:"transport"`
	// AllowAnonymous lets a push:// source without credentials be.
	AllowAnonymous bool `mapstructure:"allow_anonymous"`
	// PublishSHA256 is the hex sha256 of a whip:// source's publish
	// secret (only the hash is written down, like auth.tokens).
	PublishSHA256 string `mapstructure:"publish_sha256"`
}

// SessionConfig is one citizen-reception session and its points.
type SessionConfig struct {
	ID       string        `mapstructure:"id"`
	Title    string        `mapstructure:"title"`
	Layout   string        `mapstructure:"layout"`
	Output   OutputConfig  `mapstructure:"output"`
	Record   *bool         `mapstructure:"record"` // default true: a live run is archived
	Start    string        `mapstructure:"start"`
	Duration time.Duration `mapstructure:"duration"` // planned length, for the disk check; 0: not given
	Points   []PointConfig `mapstructure:"points"`
	// Outputs publish the running session to WHIP servers (config_outputs.go).
	Outputs []SessionOutputConfig `mapstructure:"outputs"`
}

// OutputConfig is the composite's picture and bitrate.
type OutputConfig struct {
	Width   int `mapstructure:"width"`
	Height  int `mapstructure:"height"`
	FPS     int `mapstructure:"fps"`
	Bitrate int `mapstructure:"bitrate"` // kbps
}

// PointConfig is one bridge point of a session.
type PointConfig struct {
	ID     string `mapstructure:"id"`
	Source string `mapstructure:"source"`
	Role   string `mapstructure:"role"`
	Label  string `mapstructure:"label"`
}

// defaults are the values of docs/configuration.md and the sample file.
// Every scalar key has one so that DIEMCAU_* environment variables reach it.
func defaults() map[string]any {
	return map[string]any{
		"http.listen":            ":8080",
		"http.tls.cert":          "",
		"http.tls.key":           "",
		"rtsp.listen":            ":8554",
		"rtsp.read_user":         "",
		"rtsp.read_pass":         "",
		"rtsp.read_digest":       false,
		"rtsp.anonymous_read":    false,
		"srt.listen":             srtin.DefaultListen,
		"srt.latency":            srtin.DefaultLatency.String(),
		"hub.url":                "",
		"hub.point":              "",
		"hub.token":              "",
		"hub.program":            "",
		"webrtc.udp_port":        8189,
		"webrtc.public_ips":      []string{},
		"webrtc.ice_servers":     []string{},
		"pipeline.encoder":       "auto",
		"pipeline.decoder":       "auto",
		"pipeline.low_rendition": "",
		"archive.root":           "./archive",
		"archive.segment":        "5m",
		"archive.part":           "1s",
		"archive.fsync":          true,
		"archive.retention":      "0s",
		"archive.min_free":       "2GiB",
		"archive.signing_key":    "",
		"audit.retention":        store.DefaultAuditRetention.String(),
		"store":                  "./diemcau.db",
	}
}

// loadConfig reads the file (if any), then DIEMCAU_* environment, then the
// flags bound to keys, in rising precedence, and validates the result.
func loadConfig(file string, flags map[string]*pflag.Flag) (*Config, error) {
	var yaml []byte
	if file != "" {
		var err error
		if yaml, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
	}
	return parseConfig(file, yaml, flags)
}

// parseConfig is loadConfig on the bytes of file, which the fuzz target
// feeds directly; file "" is the embedded demo (yaml unused).
func parseConfig(file string, yaml []byte, flags map[string]*pflag.Flag) (*Config, error) {
	v := viper.New()
	for k, val := range defaults() {
		v.SetDefault(k, val)
	}
	for k, val := range limitDefaults() {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("DIEMCAU")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for key, f := range flags {
		if f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, fmt.Errorf("config: flag for %s: %w", key, err)
			}
		}
	}
	cfg := &Config{Demo: file == ""}
	if file != "" {
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(yaml)); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
	}
	hook := mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
		byteSizeHook,
	)
	if err := v.UnmarshalExact(cfg, viper.DecodeHook(hook)); err != nil {
		return nil, fmt.Errorf("config %s: %w", orDefault(file, "(defaults)"), err)
	}
	if cfg.Demo {
		applyDemo(cfg)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, &ConfigError{File: file, Problems: errs}
	}
	cfg.applyHub()
	return cfg, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ConfigError lists every problem of a config, one per line, each naming its key.
type ConfigError struct {
	File     string
	Problems []error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config %s is invalid (%d problems):", orDefault(e.File, "(defaults)"), len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// ByteSize is a size written as "2GiB", "500MB", "1048576".
type ByteSize int64

var byteSizeType = reflect.TypeOf(ByteSize(0))

func byteSizeHook(from, to reflect.Type, data any) (any, error) {
	if to != byteSizeType {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		n, err := parseByteSize(d)
		return ByteSize(n), err
	case int:
		return ByteSize(d), nil
	case int64:
		return ByteSize(d), nil
	case float64:
		return ByteSize(int64(d)), nil
	}
	return data, nil
}

func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			var f float64
			if _, err := fmt.Sscanf(strings.TrimSpace(num), "%g", &f); err != nil || f < 0 {
				return 0, fmt.Errorf("size %q: want a number and a unit such as 2GiB", s)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number and a unit such as 2GiB", s)
	}
	return n, nil
}

// fileExists is used by validation of TLS and key files.
func fileExists(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return errors.Unwrap(err)
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}
