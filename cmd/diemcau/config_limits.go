package main

import (
	"time"

	"diemcau/control"
	"diemcau/control/whep"
	"diemcau/ingest"
	"diemcau/internal/fielderr"
)

// The limits on connections and viewers, under rtsp:, http: and webrtc:
// (squashed into those sections). Zero or absent: the default; -1: no
// limit.

// RTSPLimitsConfig bounds the RTSP server's TCP connections.
type RTSPLimitsConfig struct {
	MaxConns            int           `mapstructure:"max_conns"`
	MaxConnsPerIP       int           `mapstructure:"max_conns_per_ip"`
	FirstRequestTimeout time.Duration `mapstructure:"first_request_timeout"`
}

// HTTPLimitsConfig bounds the HTTP server's connections and requests.
type HTTPLimitsConfig struct {
	MaxConns          int           `mapstructure:"max_conns"`
	MaxConnsPerIP     int           `mapstructure:"max_conns_per_ip"`
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
	MaxHeaderBytes    ByteSize      `mapstructure:"max_header_bytes"`
}

// WebRTCLimitsConfig bounds WHEP viewers.
type WebRTCLimitsConfig struct {
	MaxViewers         int `mapstructure:"max_viewers"`
	MaxConnecting      int `mapstructure:"max_connecting"`
	MaxViewersPerToken int `mapstructure:"max_viewers_per_token"`
	MaxViewersPerIP    int `mapstructure:"max_viewers_per_ip"`
	MaxConnectingPerIP int `mapstructure:"max_connecting_per_ip"`
	// Senders: goroutines writing one stream to its viewers; 0 is one per
	// core. Not a cap: here because it is sized to the machine as they are.
	Senders int `mapstructure:"senders"`
}

// limitDefaults are the limit keys' defaults, so that DIEMCAU_* variables
// reach them and the sample config can show them.
func limitDefaults() map[string]any {
	return map[string]any{
		"rtsp.max_conns":               ingest.DefaultRTSPMaxConns,
		"rtsp.max_conns_per_ip":        ingest.DefaultRTSPMaxConnsPerIP,
		"rtsp.first_request_timeout":   ingest.DefaultRTSPFirstRequestTimeout.String(),
		"http.max_conns":               control.DefaultHTTPMaxConns,
		"http.max_conns_per_ip":        control.DefaultHTTPMaxConnsPerIP,
		"http.read_header_timeout":     control.DefaultHTTPReadHeaderTimeout.String(),
		"http.read_timeout":            control.DefaultHTTPReadTimeout.String(),
		"http.idle_timeout":            control.DefaultHTTPIdleTimeout.String(),
		"http.max_header_bytes":        "64KiB",
		"webrtc.max_viewers":           whep.DefaultMaxViewers,
		"webrtc.max_connecting":        whep.DefaultMaxConnecting,
		"webrtc.max_viewers_per_token": whep.DefaultMaxViewersPerToken,
		"webrtc.max_viewers_per_ip":    whep.DefaultMaxViewersPerIP,
		"webrtc.max_connecting_per_ip": whep.DefaultMaxConnectingPerIP,
		"webrtc.senders":               0,
	}
}

func rtspLimits(cfg *Config) ingest.ServerLimits {
	l := cfg.RTSP.RTSPLimitsConfig
	return ingest.ServerLimits{MaxConns: l.MaxConns, MaxConnsPerIP: l.MaxConnsPerIP, FirstRequestTimeout: l.FirstRequestTimeout}
}

func httpLimits(cfg *Config) control.Limits {
	l := cfg.HTTP.HTTPLimitsConfig
	return control.Limits{
		MaxConns: l.MaxConns, MaxConnsPerIP: l.MaxConnsPerIP,
		ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout, IdleTimeout: l.IdleTimeout,
		MaxHeaderBytes: int(l.MaxHeaderBytes),
	}
}

// addConnCounters puts the RTSP server's and the WHEP server's refusals
// beside the HTTP server's in diemcau_conn_refused_total.
func addConnCounters(api *control.Server, rtsp *ingest.Server, viewers *whep.Server) {
	api.AddConnCounter(control.ConnCounter{Listener: "rtsp", Refused: rtsp.ConnsRefused, Open: rtsp.ConnsOpen})
	api.AddConnCounter(control.ConnCounter{Listener: "whep", Refused: viewers.Refused, Open: viewers.Open})
}

// whepLimits sets the viewer caps of c.
func whepLimits(cfg *Config, c *whep.Config) {
	l := cfg.WebRTC.WebRTCLimitsConfig
	c.MaxViewers, c.MaxConnecting = l.MaxViewers, l.MaxConnecting
	c.MaxViewersPerToken, c.MaxViewersPerIP, c.MaxConnectingPerIP = l.MaxViewersPerToken, l.MaxViewersPerIP, l.MaxConnectingPerIP
	c.Senders = l.Senders
}

// componentProblems has each component check the values it will be
// given, at load, so that a bad one is reported with the file's other
// problems; a component names the key below its section, and the section
// is put in front here (the one place that knows the file's layout).
func (c *Config) componentProblems() []error {
	var errs []error
	add := func(section string, err error) {
		err = fielderr.In(section, err)
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, joined.Unwrap()...)
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	add("rtsp", rtspConfig(c).Validate())
	// The tokens are checked under auth, with their hashes (Validate).
	add("http", control.Config{Listen: c.HTTP.Listen, TLSCert: c.HTTP.TLS.Cert, TLSKey: c.HTTP.TLS.Key, Limits: httpLimits(c)}.Validate())
	add("archive", archiveConfig(c).Validate())
	wc, err := whepConfig(c)
	if err == nil {
		err = wc.Validate()
	}
	add("webrtc", err)
	return errs
}

// rtspConfig is the RTSP server's view of the rtsp.* keys.
func rtspConfig(cfg *Config) ingest.ServerConfig {
	r := cfg.RTSP
	return ingest.ServerConfig{Listen: r.Listen, ReadUser: r.ReadUser, ReadPass: r.ReadPass,
		ReadDigest: r.ReadDigest, AnonymousRead: r.AnonymousRead, Limits: rtspLimits(cfg)}
}
