package ingest

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"no credentials", "rtsp://192.0.2.10:554/stream1", "rtsp://192.0.2.10:554/stream1"},
		{"user info", "rtsp://admin:s3cret@192.0.2.10/stream1", "rtsp://***@192.0.2.10/stream1"},
		{"user only", "rtsp://admin@192.0.2.10/stream1", "rtsp://***@192.0.2.10/stream1"},
		{"push", "push://enc:s3cret@", "push://***@"},
		{"dvr path form", "rtsp://192.0.2.10:554/user=admin&password=s3cret&channel=1&stream=0.sdp?",
			"rtsp://192.0.2.10:554/user=***&password=***&channel=1&stream=0.sdp?"},
		{"xmeye underscores", "rtsp://192.0.2.10:554/user=admin_password=tlJw_pbo6_channel=1_stream=0.sdp?real_stream",
			"rtsp://192.0.2.10:554/user=***_password=***_channel=1_stream=0.sdp?real_stream"},
		{"foscam query", "rtsp://192.0.2.10:88/videoMain?usr=admin&pwd=s3cret", "rtsp://192.0.2.10:88/videoMain?usr=***&pwd=***"},
		{"password query", "rtsp://192.0.2.10/live?channel=1&password=s3cret", "rtsp://192.0.2.10/live?channel=1&password=***"},
		{"passwd", "rtsp://192.0.2.10/live?passwd=s3cret&x=1", "rtsp://192.0.2.10/live?passwd=***&x=1"},
		{"pass after amp", "rtsp://192.0.2.10/h264?user=a&pass=s3cret", "rtsp://192.0.2.10/h264?user=***&pass=***"},
		{"token", "rtsp://192.0.2.10/cam?token=abc.def-ghi", "rtsp://192.0.2.10/cam?token=***"},
		{"upper case name", "rtsp://192.0.2.10/cam?PWD=s3cret", "rtsp://192.0.2.10/cam?PWD=***"},
		{"srt passphrase", "srt://192.0.2.10:9000?streamid=ingest/tinh&passphrase=longsecret123", "srt://192.0.2.10:9000?streamid=ingest/tinh&passphrase=***"},
		{"both forms", "rtsp://a:b@192.0.2.10/x?pwd=c", "rtsp://***@192.0.2.10/x?pwd=***"},
		{"encoded value", "rtsp://192.0.2.10/x?password=a%26b%3Dc&ch=2", "rtsp://192.0.2.10/x?password=***&ch=2"},
		{"fragment", "rtsp://192.0.2.10/x?pwd=s3cret#frag", "rtsp://192.0.2.10/x?pwd=***#frag"},
		{"names that merely end so are kept", "rtsp://192.0.2.10/x?bypass=1&keyint=2&superuser=3", "rtsp://192.0.2.10/x?bypass=1&keyint=2&superuser=3"},
		{"unparseable", "rtsp://ad min:s3cret@192.0.2.10:bad/x?pwd=p", "rtsp://***@192.0.2.10:bad/x?pwd=***"},
		{"sim", "sim://tinh", "sim://tinh"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	cases := []struct {
		name, url, msg string
		secrets        []string
	}{
		{"user info quoted", "rtsp://admin:s3cret@192.0.2.10/x", `dial "rtsp://admin:s3cret@192.0.2.10/x": refused`, []string{"s3cret"}},
		{"path form quoted whole", "rtsp://192.0.2.10/user=admin&password=s3cret&channel=1",
			`GET rtsp://192.0.2.10/user=admin&password=s3cret&channel=1: 401`, []string{"s3cret"}},
		{"path form re-encoded", "rtsp://192.0.2.10/x?pwd=a%2Fb",
			`bad response from 192.0.2.10 for /x?pwd=a/b`, []string{"a/b", "a%2Fb"}},
		{"secret alone in text", "rtsp://192.0.2.10/x?token=tok123456", `server said: invalid tok123456`, []string{"tok123456"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := RedactError(errors.New(tc.msg), tc.url)
			for _, s := range tc.secrets {
				if strings.Contains(got, s) {
					t.Errorf("RedactError shows %q: %q", s, got)
				}
			}
			if !strings.Contains(got, "192.0.2.10") && strings.Contains(tc.msg, "192.0.2.10") {
				t.Errorf("RedactError lost the host: %q", got)
			}
		})
	}
}
