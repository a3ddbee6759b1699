package control

import (
	"testing"
	"time"
)

// The planned duration: accepted as "2h30m", shown the same way, cleared
// with null, refused out of range with the field named.
func TestSessionDurationAPI(t *testing.T) {
	base, _ := startWithStore(t)
	const admin = "admin-token"
	steps := []struct {
		name, method, path, body string
		status                   int
		field                    string
		want                     any // the duration shown; nil: absent
	}{
		{"create without", "POST", "/api/v1/sessions", `{"id":"a","points":[{"id":"tinh","source":"tinh"}]}`, 201, "", nil},
		{"create with", "POST", "/api/v1/sessions", `{"id":"b","duration":"2h30m","points":[{"id":"tinh","source":"tinh"}]}`, 201, "", "2h30m"},
		{"get shows it", "GET", "/api/v1/sessions/b", "", 200, "", "2h30m"},
		{"minutes alone", "PATCH", "/api/v1/sessions/b", `{"duration":"90m"}`, 200, "", "1h30m"},
		{"whole hours", "PATCH", "/api/v1/sessions/b", `{"duration":"4h"}`, 200, "", "4h"},
		{"absent leaves it", "PATCH", "/api/v1/sessions/b", `{"title":"x"}`, 200, "", "4h"},
		{"24h is the most", "PATCH", "/api/v1/sessions/b", `{"duration":"24h"}`, 200, "", "24h"},
		{"over a day", "PATCH", "/api/v1/sessions/b", `{"duration":"25h"}`, 400, "duration", nil},
		{"zero", "PATCH", "/api/v1/sessions/b", `{"duration":"0s"}`, 400, "duration", nil},
		{"negative", "POST", "/api/v1/sessions", `{"id":"c","duration":"-1h"}`, 400, "duration", nil},
		{"under a minute", "POST", "/api/v1/sessions", `{"id":"c","duration":"30s"}`, 400, "duration", nil},
		{"a bare number", "POST", "/api/v1/sessions", `{"id":"c","duration":90}`, 400, "duration", nil},
		{"not a duration", "POST", "/api/v1/sessions", `{"id":"c","duration":"2 hours"}`, 400, "duration", nil},
		{"refused patch changed nothing", "GET", "/api/v1/sessions/b", "", 200, "", "24h"},
		{"null clears", "PATCH", "/api/v1/sessions/b", `{"duration":null}`, 200, "", nil},
		{"cleared", "GET", "/api/v1/sessions/b", "", 200, "", nil},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := do(t, tc.method, base+tc.path, admin, tc.body)
			wantAPI(t, status, resp, tc.status, tc.field)
			if tc.field != "" {
				return
			}
			if got := resp["duration"]; got != tc.want {
				t.Fatalf("duration %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, ""}, {45 * time.Minute, "45m"}, {2 * time.Hour, "2h"}, {150 * time.Minute, "2h30m"},
		{time.Hour + 30*time.Second, "1h0m30s"}, {24 * time.Hour, "24h"},
	} {
		if got := formatDuration(tc.in); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in != 0 {
			if back, err := time.ParseDuration(formatDuration(tc.in)); err != nil || back != tc.in {
				t.Errorf("%q does not parse back to %v: %v %v", formatDuration(tc.in), tc.in, back, err)
			}
		}
	}
}
