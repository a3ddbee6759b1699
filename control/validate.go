package control

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"diemcau/control/store"
	"diemcau/ingest"
	"diemcau/pipeline"
)

// FieldError is one problem with one field of a source or session, the field
// written as a path relative to the object ("points[1].source").
type FieldError struct {
	Field, Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Choices offered for the enumerated fields.
var (
	Layouts       = []string{"grid", "speaker", "pip", "single"}
	StartModes    = []string{store.StartLive, store.StartRehearsal, store.StartManual}
	PointRoles    = []string{"province", "local", "central"}
	Transports    = []string{"auto", "tcp", "udp"}
	SourceSchemes = []string{"rtsp", "rtsps", "push", "sim", "whip", "srt", "whep", "wheps"}
)

// Bounds of a session's planned duration: a session is a working day at
// most, and a minute at least (a bare number in a config file reads as
// nanoseconds; this refuses it).
const (
	MinSessionDuration = time.Minute
	MaxSessionDuration = 24 * time.Hour
)

type fieldErrors []FieldError

func (fe *fieldErrors) add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (fe *fieldErrors) choice(field, v string, choices []string) {
	if !slices.Contains(choices, v) {
		fe.add(field, "%q: want one of %s", v, strings.Join(choices, ", "))
	}
}

// ValidateSource fills the defaults of a source and checks it. The URL is
// never echoed: it may hold a password.
func ValidateSource(s *store.Source) []FieldError {
	var fe fieldErrors
	if !pipeline.ValidID(s.ID) {
		fe.add("id", "%q: use %s", s.ID, pipeline.IDRule)
	}
	if s.Transport == "" {
		s.Transport = "auto"
	}
	fe.choice("transport", s.Transport, Transports)
	u, err := url.Parse(s.URL)
	_, _, simErr := ingest.ParseSimURL(s.URL)
	switch {
	case err != nil || !slices.Contains(SourceSchemes, u.Scheme):
		fe.add("url", "want rtsp://, rtsps://, push://, srt://, whip://, whep(s):// or sim:// (got %s)", schemeHint(s.URL))
	case (u.Scheme == "rtsp" || u.Scheme == "rtsps") && u.Host == "":
		fe.add("url", "no host")
	case u.Scheme == "push":
		pass, _ := u.User.Password()
		if u.User != nil && pass == "" {
			fe.add("url", "push://user@ has no password; write push://user:pass@")
		} else if u.User == nil && !s.AllowAnonymous {
			// Anyone reaching the RTSP port could publish into the record.
			fe.add("url", "push:// needs the encoder's credentials (push://user:pass@), or allow_anonymous: true to let anyone who reaches the RTSP port publish")
		}
	case u.Scheme == "whip" && (u.User != nil || u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != ""):
		// The secret is made by the server (or its hash given as
		// publish_sha256), never written in a URL that the API shows.
		fe.add("url", "write just whip://: publishers send the source's publish secret or a point invite as Bearer to POST /whip/ingest/%s", s.ID)
	case u.Scheme == "srt":
		// srt://:PASSPHRASE@, checked as the encoders will (10 to 79
		// characters); the URL is never echoed.
		if _, perr := ingest.ParseSRTURL(s.URL, s.AllowAnonymous); perr != nil {
			fe.add("url", "%v", perr)
		}
	case (u.Scheme == "whep" || u.Scheme == "wheps") && (u.Host == "" || (u.Path != "" && u.Path != "/" && !strings.HasPrefix(u.Path, "/whep/"))):
		// A remote WHEP stream, e.g. a point node's return feed from its
		// hub; the token, if any, is the URL's password; without a path,
		// the stream the invite in the password is for.
		fe.add("url", "want wheps://:TOKEN@host/whep/… (a WHEP endpoint; whep:// for plain http), or wheps://:INVITE@host for the invite's own feed")
	case u.Scheme == "sim" && simErr != nil:
		// sim://NAME[?pattern=avsync]: a sim URL holds no secret to hide.
		fe.add("url", "%v", simErr)
	case s.AllowAnonymous:
		fe.add("allow_anonymous", "only push:// and srt:// sources take encoders without credentials")
	}
	if err := ingest.ValidateSubURL(s.SubURL); err != nil {
		// The message names the key (sub_url: …) and never the URL.
		field, msg, _ := strings.Cut(err.Error(), ": ")
		fe.add(field, "%s", msg)
	}
	if s.PublishSHA256 != "" {
		if h, err := ParseTokenHash(s.PublishSHA256); err != nil {
			fe.add("publish_sha256", "want the 64 hex digits of the publish secret's sha256 (sha256sum)")
		} else if u == nil || u.Scheme != "whip" {
			fe.add("publish_sha256", "only whip:// sources take a publish secret")
		} else {
			s.PublishSHA256 = hex.EncodeToString(h[:])
		}
	}
	return fe
}

func schemeHint(raw string) string {
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		return fmt.Sprintf("%q", scheme+"://…")
	}
	if raw == "" {
		return "nothing"
	}
	return "no scheme"
}

// ValidateSession fills the defaults of a session and its points and checks
// them; sourceExists tells which source ids are known.
func ValidateSession(s *store.Session, sourceExists func(string) bool) []FieldError {
	var fe fieldErrors
	if !pipeline.ValidID(s.ID) {
		fe.add("id", "%q: use %s", s.ID, pipeline.IDRule)
	}
	if s.Layout == "" {
		s.Layout = "grid"
	}
	fe.choice("layout", s.Layout, Layouts)
	if s.Start == "" {
		s.Start = store.StartLive
	}
	fe.choice("start", s.Start, StartModes)
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
		fe.add("output", "%dx%d: width and height must be even, at least 16 and at most 3840x2160", o.Width, o.Height)
	}
	if o.FPS < 1 || o.FPS > 60 {
		fe.add("output.fps", "%d: want 1 to 60", o.FPS)
	}
	if o.Bitrate < 100 || o.Bitrate > 50000 {
		fe.add("output.bitrate", "%d kbps: want 100 to 50000", o.Bitrate)
	}
	if s.Duration != 0 && (s.Duration < MinSessionDuration || s.Duration > MaxSessionDuration) {
		fe.add("duration", "%s: want 1m to 24h (e.g. \"2h30m\"), or leave it out", s.Duration)
	}
	seen := map[string]bool{}
	for i := range s.Points {
		p := &s.Points[i]
		key := fmt.Sprintf("points[%d]", i)
		if !pipeline.ValidID(p.ID) {
			fe.add(key+".id", "%q: use %s", p.ID, pipeline.IDRule)
		} else if seen[p.ID] {
			fe.add(key+".id", "duplicate point %q", p.ID)
		}
		seen[p.ID] = true
		if !sourceExists(p.Source) {
			fe.add(key+".source", "no source %q", p.Source)
		}
		if p.Role == "" {
			p.Role = "local"
		}
		fe.choice(key+".role", p.Role, PointRoles)
		if p.Label == "" {
			p.Label = p.ID
		}
		if math.IsNaN(p.Gain) || p.Gain < 0 || p.Gain > 4 {
			fe.add(key+".gain", "%v: want 0 to 4", p.Gain)
		}
	}
	if s.Focus != "" && !seen[s.Focus] {
		fe.add("focus", "no point %q", s.Focus)
	}
	return fe
}
