package srt

import (
	"errors"
	"testing"
)

func TestParseStreamID(t *testing.T) {
	cases := []struct {
		sid, want string
		mode      bool // refused for its mode
	}{
		{sid: "#!::r=ingest/xa-c,m=publish", want: "xa-c"},
		{sid: "#!::m=publish,r=ingest/xa-c", want: "xa-c"},
		{sid: "#!::u=enc,r=ingest/xa-c,m=publish", want: "xa-c"},
		{sid: "#!::r=ingest/xa-c", want: "xa-c"},
		{sid: "ingest/xa-c", want: "xa-c"},
		{sid: "/ingest/xa-c", want: "xa-c"},
		{sid: "#!::r=ingest/xa-c,m=request", mode: true},
		{sid: "#!::r=ingest/xa-c,m=bidirectional", mode: true},
		{sid: ""},
		{sid: "xa-c"},
		{sid: "ingest/"},
		{sid: "ingest/a/b"},
		{sid: "live/xa-c"},
		{sid: "#!::m=publish"},
	}
	for _, tc := range cases {
		t.Run(tc.sid, func(t *testing.T) {
			got, err := parseStreamID(tc.sid)
			switch {
			case tc.want != "" && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			case tc.want == "" && err == nil:
				t.Errorf("got %q, want a refusal", got)
			case tc.mode != errors.Is(err, errModeNotPublish):
				t.Errorf("err %v, mode refusal %v", err, tc.mode)
			}
		})
	}
}

func TestPrintableStreamID(t *testing.T) {
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	if got := printableStreamID(string(long)); len(got) > 90 {
		t.Errorf("%d bytes logged", len(got))
	}
	if got := printableStreamID("a\nb\x00c"); got != "a?b?c" {
		t.Errorf("got %q", got)
	}
}
