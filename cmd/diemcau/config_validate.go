package main

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"diemcau/control"
	"diemcau/control/store"
)

// Choices offered for the enumerated keys.
var (
	encoderChoices = []string{"auto", "x264", "openh264", "nvh264", "va", "vaapi", "qsv", "v4l2"}
	decoderChoices = []string{"auto", "avdec", "openh264", "nvh264", "va", "vaapi", "qsv", "v4l2"}
	tokenRoles     = []string{"admin", "operator", "viewer"}
)

// Validate fills defaults of list items and returns one error per problem,
// each naming its key as it is written in the file.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	for key, path := range map[string]string{"http.tls.cert": c.HTTP.TLS.Cert, "http.tls.key": c.HTTP.TLS.Key, "archive.signing_key": c.Archive.SigningKey} {
		if path != "" {
			if err := fileExists(path); err != nil {
				bad(key, "%s: %v", path, err)
			}
		}
	}
	errs = append(errs, c.secretFileProblems()...)
	errs = append(errs, c.componentProblems()...)
	errs = append(errs, c.srtProblems()...)
	errs = append(errs, c.outputProblems()...)
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
	if _, err := parseLowRendition(c.Pipeline.LowRendition); err != nil {
		bad("pipeline.low_rendition", "%v", err)
	}

	if c.Store == "" {
		bad("store", "required (path of the SQLite file)")
	}
	if r := c.Audit.Retention; r < 0 || (r > 0 && r < 24*time.Hour) {
		bad("audit.retention", "%s: 0 keeps forever, otherwise at least 24h (e.g. 9600h, 400 days)", r)
	}

	sources := map[string]bool{}
	for i := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		src := c.Sources[i].toStore()
		for _, fe := range control.ValidateSource(&src) {
			errs = append(errs, fmt.Errorf("%s.%w", key, fe))
		}
		if sources[src.ID] {
			bad(key+".id", "duplicate id %q", src.ID)
		}
		sources[src.ID] = true
		c.Sources[i].Transport = src.Transport
	}

	sessions := map[string]bool{}
	for i := range c.Sessions {
		key := fmt.Sprintf("sessions[%d]", i)
		sess := c.Sessions[i].toStore()
		for _, fe := range control.ValidateSession(&sess, func(id string) bool { return sources[id] }) {
			errs = append(errs, fmt.Errorf("%s.%w", key, fe))
		}
		if sessions[sess.ID] {
			bad(key+".id", "duplicate id %q", sess.ID)
		}
		sessions[sess.ID] = true
		c.Sessions[i].fromStore(sess)
	}
	return errs
}

// applyDemo is the embedded demo (docs/configuration.md): four synthetic
// points in one live, recorded session, so `diemcau serve` shows everything
// at once.
func applyDemo(c *Config) {
	record := true
	points := []struct{ id, name, role string }{
		{"tinh", "UBND Tỉnh", "province"},
		{"xa-a", "UBND xã A", "local"},
		{"xa-b", "UBND xã B", "local"},
		{"trung-uong", "Ban Tiếp công dân Trung ương", "central"},
	}
	sess := SessionConfig{
		ID: "demo", Title: "Tiếp công dân trực tuyến (demo)", Layout: "speaker",
		Record: &record, Start: "live",
		Output: OutputConfig{Width: 1280, Height: 720, FPS: 30, Bitrate: 2500},
	}
	for _, p := range points {
		c.Sources = append(c.Sources, SourceConfig{ID: p.id, Name: p.name, URL: "sim://" + p.id, Transport: "auto"})
		sess.Points = append(sess.Points, PointConfig{ID: p.id, Source: p.id, Role: p.role, Label: p.name})
	}
	c.Sessions = append(c.Sessions, sess)
}

func (s SourceConfig) toStore() store.Source {
	return store.Source{ID: s.ID, Name: s.Name, URL: s.URL, SubURL: s.SubURL, Transport: s.Transport, AllowAnonymous: s.AllowAnonymous, PublishSHA256: s.PublishSHA256, Origin: store.OriginConfig}
}

func (s SessionConfig) toStore() store.Session {
	out := store.Session{
		ID: s.ID, Title: s.Title, Layout: s.Layout, Record: s.Record == nil || *s.Record, Start: s.Start, Origin: store.OriginConfig,
		State: store.StateIdle, Duration: s.Duration,
		Output: store.Output{Width: s.Output.Width, Height: s.Output.Height, FPS: s.Output.FPS, Bitrate: s.Output.Bitrate},
	}
	for _, p := range s.Points {
		out.Points = append(out.Points, store.Point{ID: p.ID, Source: p.Source, Role: p.Role, Label: p.Label, Gain: 1})
	}
	return out
}

// fromStore takes back the defaults validation filled in.
func (s *SessionConfig) fromStore(v store.Session) {
	s.Layout, s.Start = v.Layout, v.Start
	s.Output = OutputConfig{Width: v.Output.Width, Height: v.Output.Height, FPS: v.Output.FPS, Bitrate: v.Output.Bitrate}
	for i := range s.Points {
		s.Points[i].Role, s.Points[i].Label = v.Points[i].Role, v.Points[i].Label
	}
}
