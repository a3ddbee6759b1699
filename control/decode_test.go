package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSONNamesTheField(t *testing.T) {
	type body struct {
		Layout string  `json:"layout"`
		Gain   float64 `json:"gain"`
		Point  struct {
			Muted bool `json:"muted"`
		} `json:"point"`
	}
	tests := []struct {
		name, in    string
		status      int
		field, want string
	}{
		{"ok", `{"layout":"grid","gain":0.5}`, 0, "", ""},
		{"unknown field", `{"layuot":"grid"}`, 400, "layuot", "unknown field"},
		{"wrong type", `{"gain":"loud"}`, 400, "gain", "want float64"},
		{"nested wrong type", `{"point":{"muted":"yes"}}`, 400, "point.muted", "want bool"},
		{"malformed", `{"layout":`, 400, "", "malformed JSON"},
		{"garbage", `not json`, 400, "", "malformed JSON"},
		{"empty", ``, 400, "", "empty body"},
		{"two values", `{} {}`, 400, "", "more than one"},
		{"too large", `{"layout":"` + strings.Repeat("x", maxBody) + `"}`, 413, "", "over 1 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, maxBody)
			var b body
			err := decodeJSON(r, &b)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || err.Status != tc.status || err.Field != tc.field || !strings.Contains(err.Message, tc.want) {
				t.Fatalf("got %+v, want %d field %q message with %q", err, tc.status, tc.field, tc.want)
			}
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"layout":"grid"}`, `{"gain":1e309}`, `{"point":{"muted":true}}`, `[`, `"\u0000"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(in))
		var v struct {
			Layout string  `json:"layout"`
			Gain   float64 `json:"gain"`
		}
		if err := decodeJSON(r, &v); err != nil && (err.Status < 400 || err.Message == "") {
			t.Fatalf("error without a status or message: %+v", err)
		}
	})
}
