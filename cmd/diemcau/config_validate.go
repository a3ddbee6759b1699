package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var idPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

// Choices offered for the enumerated keys.
var (
	encoderChoices   = []string{"auto", "x264", "openh264", "nvh264", "va", "vaapi", "qsv", "v4l2"}
	decoderChoices   = []string{"auto", "avdec", "nvh264", "va", "vaapi", "v4l2"}
	transportChoices = []string{"auto", "tcp", "udp"}
	layoutChoices    = []string{"grid", "speaker", "pip", "single"}
	startChoices     = []string{"live", "rehearsal", "manual"}
	roleChoices      = []string{"province", "local", "central"}
	tokenRoles       = []string{"admin", "operator", "viewer"}
	sourceSchemes    = []string{"rtsp", "rtsps", "push", "sim"}
)

// Validate fills defaults of list items and returns one error per problem,
// each naming its key as it is written in the file.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	checkListen := func(key, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port (e.g. \":8080\")", addr)
		}
	}
	checkListen("http.listen", c.HTTP.Listen)
	checkListen("rtsp.listen", c.RTSP.Listen)
	if (c.HTTP.TLS.Cert == "") != (c.HTTP.TLS.Key == "") {
		bad("http.tls", "set both cert and key, or neither")
	}
	for key, path := range map[string]string{"http.tls.cert": c.HTTP.TLS.Cert, "http.tls.key": c.HTTP.TLS.Key, "archive.signing_key": c.Archive.SigningKey} {
		if path != "" {
			if err := fileExists(path); err != nil {
				bad(key, "%s: %v", path, err)
			}
		}
	}
	if c.WebRTC.UDPPort < 0 || c.WebRTC.UDPPort > 65535 {
		bad("webrtc.udp_port", "%d is not a port", c.WebRTC.UDPPort)
	}
	for i, ip := range c.WebRTC.PublicIPs {
		if net.ParseIP(ip) == nil {
			bad(fmt.Sprintf("webrtc.public_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	for i, s := range c.WebRTC.ICEServers {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			bad(fmt.Sprintf("webrtc.ice_servers[%d]", i), "%q: want a stun:, turn: or turns: URL", s)
		}
	}
	for i, t := range c.Auth.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name == "" {
			bad(key+".name", "required")
		}
		if !slices.Contains(tokenRoles, t.Role) {
			bad(key+".role", "%q: want one of %s", t.Role, strings.Join(tokenRoles, ", "))
		}
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
			bad(key+".sha256", "want the 64 hex digits of the token's sha256 (`printf %%s TOKEN | sha256sum`)")
		}
	}
	checkChoice := func(key, v string, choices []string) {
		if !slices.Contains(choices, v) {
			bad(key, "%q: want one of %s", v, strings.Join(choices, ", "))
		}
	}
	checkChoice("pipeline.encoder", c.Pipeline.Encoder, encoderChoices)
	checkChoice("pipeline.decoder", c.Pipeline.Decoder, decoderChoices)

	a := c.Archive
	if a.Root == "" {
		bad("archive.root", "required")
	}
	if a.Part < 100e6 {
		bad("archive.part", "%s: at least 100ms", a.Part)
	}
	if a.Segment < a.Part {
		bad("archive.segment", "%s is shorter than archive.part (%s)", a.Segment, a.Part)
	}
	if a.Retention < 0 {
		bad("archive.retention", "%s: 0 keeps forever, otherwise a positive duration", a.Retention)
	}
	if a.MinFree < 0 {
		bad("archive.min_free", "negative")
	}
	if c.Store == "" {
		bad("store", "required (path of the SQLite file)")
	}

	sources := map[string]bool{}
	for i := range c.Sources {
		s := &c.Sources[i]
		key := fmt.Sprintf("sources[%d]", i)
		if !idPattern.MatchString(s.ID) {
			bad(key+".id", "%q: use a-z, 0-9 and -", s.ID)
		} else if sources[s.ID] {
			bad(key+".id", "duplicate id %q", s.ID)
		}
		sources[s.ID] = true
		if s.Transport == "" {
			s.Transport = "auto"
		}
		checkChoice(key+".transport", s.Transport, transportChoices)
		if u, err := url.Parse(s.URL); err != nil || !slices.Contains(sourceSchemes, u.Scheme) {
			// The URL may hold a password: never echo it.
			bad(key+".url", "want rtsp://, rtsps://, push:// or sim:// (got %q)", schemeOf(s.URL))
		}
	}

	sessions := map[string]bool{}
	for i := range c.Sessions {
		s := &c.Sessions[i]
		key := fmt.Sprintf("sessions[%d]", i)
		if !idPattern.MatchString(s.ID) {
			bad(key+".id", "%q: use a-z, 0-9 and -", s.ID)
		} else if sessions[s.ID] {
			bad(key+".id", "duplicate id %q", s.ID)
		}
		sessions[s.ID] = true
		if s.Layout == "" {
			s.Layout = "grid"
		}
		checkChoice(key+".layout", s.Layout, layoutChoices)
		if s.Start == "" {
			s.Start = "live"
		}
		checkChoice(key+".start", s.Start, startChoices)
		o := &s.Output
		if o.Width == 0 && o.Height == 0 {
			o.Width, o.Height = 1280, 720
		}
		if o.FPS == 0 {
			o.FPS = 30
		}
		if o.Bitrate == 0 {
			o.Bitrate = 2500
		}
		if o.Width < 16 || o.Height < 16 || o.Width%2 != 0 || o.Height%2 != 0 || o.Width > 3840 || o.Height > 2160 {
			bad(key+".output", "%dx%d: width and height must be even, at least 16 and at most 3840x2160", o.Width, o.Height)
		}
		if o.FPS < 1 || o.FPS > 60 {
			bad(key+".output.fps", "%d: want 1 to 60", o.FPS)
		}
		if o.Bitrate < 100 || o.Bitrate > 50000 {
			bad(key+".output.bitrate", "%d kbps: want 100 to 50000", o.Bitrate)
		}
		points := map[string]bool{}
		for j := range s.Points {
			p := &s.Points[j]
			pkey := fmt.Sprintf("%s.points[%d]", key, j)
			if !idPattern.MatchString(p.ID) {
				bad(pkey+".id", "%q: use a-z, 0-9 and -", p.ID)
			} else if points[p.ID] {
				bad(pkey+".id", "duplicate point %q", p.ID)
			}
			points[p.ID] = true
			if !sources[p.Source] {
				bad(pkey+".source", "no source %q", p.Source)
			}
			if p.Role == "" {
				p.Role = "local"
			}
			checkChoice(pkey+".role", p.Role, roleChoices)
			if p.Label == "" {
				p.Label = p.ID
			}
		}
	}
	return errs
}

// schemeOf returns just the scheme part of a URL-like string, for messages.
func schemeOf(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		return raw[:i+3] + "…"
	}
	if raw == "" {
		return ""
	}
	return "no scheme"
}

// applyDemo is the embedded demo of CONTRACT.md: four synthetic points in one
// live, recorded session, so `diemcau serve` shows everything at once.
func applyDemo(c *Config) {
	points := []struct{ id, name, role string }{
		{"tinh", "UBND Tỉnh", "province"},
		{"xa-a", "UBND xã A", "local"},
		{"xa-b", "UBND xã B", "local"},
		{"trung-uong", "Ban Tiếp công dân Trung ương", "central"},
	}
	sess := SessionConfig{
		ID: "demo", Title: "Tiếp công dân trực tuyến (demo)", Layout: "speaker",
		Record: true, Start: "live",
		Output: OutputConfig{Width: 1280, Height: 720, FPS: 30, Bitrate: 2500},
	}
	for _, p := range points {
		c.Sources = append(c.Sources, SourceConfig{ID: p.id, Name: p.name, URL: "sim://" + p.id, Transport: "auto"})
		sess.Points = append(sess.Points, PointConfig{ID: p.id, Source: p.id, Role: p.role, Label: p.name})
	}
	c.Sessions = append(c.Sessions, sess)
}
