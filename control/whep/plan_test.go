package whep

import (
	"net/http"
	"strings"
	"testing"

	"diemcau/pipeline"
)

// chromeVideo is the H.264 part of a Chromium offer, in its order.
var chromeVideo = []offeredCodec{
	{pt: 96, name: "VP8", clock: 90000},
	{pt: 102, name: "H264", clock: 90000, fmtp: map[string]string{"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42001f"}},
	{pt: 104, name: "H264", clock: 90000, fmtp: map[string]string{"level-asymmetry-allowed": "1", "packetization-mode": "0", "profile-level-id": "42001f"}},
	{pt: 106, name: "H264", clock: 90000, fmtp: map[string]string{"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42e01f"}},
	{pt: 39, name: "H264", clock: 90000, fmtp: map[string]string{"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "4d001f"}},
	{pt: 112, name: "H264", clock: 90000, fmtp: map[string]string{"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "64001f"}},
}

var chromium156High444 = offeredCodec{pt: 123, name: "H264", clock: 90000, fmtp: map[string]string{"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "f4001f"}}

func TestPlanVideoMatchesProfile(t *testing.T) {
	onlyCB := []offeredCodec{chromeVideo[3]}
	cases := []struct {
		name    string
		sps     []byte
		offered []offeredCodec
		pt      uint8
		plid    string
		status  int
	}{
		{"constrained baseline takes 42e0", []byte{0x67, 0x42, 0xe0, 0x1e}, chromeVideo, 106, "42e01e", 0},
		{"x264 constrained baseline (42c0) takes a baseline offer", []byte{0x67, 0x42, 0xc0, 0x15}, chromeVideo, 102, "420015", 0},
		{"main", []byte{0x67, 0x4d, 0x00, 0x28}, chromeVideo, 39, "4d0028", 0},
		{"high", []byte{0x67, 0x64, 0x00, 0x33}, chromeVideo, 112, "640033", 0},
		{"main falls back to high", []byte{0x67, 0x4d, 0x40, 0x1f}, []offeredCodec{chromeVideo[5]}, 112, "64001f", 0},
		{"high goes out as high 4:4:4 predictive to Chromium 156", []byte{0x67, 0x64, 0x00, 0x0d}, append(chromeVideo[:5:5], chromium156High444), 123, "f4000d", 0},
		{"the nearest superset wins", []byte{0x67, 0x4d, 0x00, 0x1f}, []offeredCodec{chromium156High444, chromeVideo[5]}, 112, "64001f", 0},
		{"high cannot go to a constrained-baseline-only browser", []byte{0x67, 0x64, 0x00, 0x1f}, onlyCB, 0, "", http.StatusUnprocessableEntity},
		{"no packetization-mode 1", []byte{0x67, 0x42, 0xe0, 0x1f}, []offeredCodec{chromeVideo[2]}, 0, "", http.StatusUnprocessableEntity},
		{"no H.264 at all", []byte{0x67, 0x42, 0xe0, 0x1f}, chromeVideo[:1], 0, "", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &pipeline.Track{Codec: pipeline.H264, SPS: tc.sps}
			c, herr := planVideo(tc.offered, tr, false)
			if tc.status != 0 {
				if herr == nil || herr.Status != tc.status {
					t.Fatalf("got %v, want status %d", herr, tc.status)
				}
				if !strings.Contains(herr.Message, "H.264") {
					t.Errorf("message does not say what was wrong: %s", herr.Message)
				}
				return
			}
			if herr != nil {
				t.Fatal(herr)
			}
			if uint8(c.PayloadType) != tc.pt || !strings.Contains(c.SDPFmtpLine, "profile-level-id="+tc.plid) {
				t.Errorf("chose PT %d %q, want PT %d with %s", c.PayloadType, c.SDPFmtpLine, tc.pt, tc.plid)
			}
		})
	}
}

func TestPlanAudio(t *testing.T) {
	offered := []offeredCodec{
		{pt: 111, name: "OPUS", clock: 48000, channels: 2},
		{pt: 0, name: "PCMU", clock: 8000, channels: 1},
		{pt: 8, name: "PCMA", clock: 8000, channels: 1},
	}
	cases := []struct {
		name   string
		track  pipeline.Track
		pt     uint8
		status int
	}{
		{"opus", pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: 2}, 111, 0},
		{"G.711 µ-law passes through", pipeline.Track{Codec: pipeline.PCMU, SampleRate: 8000, Channels: 1}, 0, 0},
		{"G.711 A-law passes through", pipeline.Track{Codec: pipeline.PCMA, SampleRate: 8000, Channels: 1}, 8, 0},
		{"G.711 at 16 kHz", pipeline.Track{Codec: pipeline.PCMA, SampleRate: 16000, Channels: 1}, 0, http.StatusUnprocessableEntity},
		{"AAC", pipeline.Track{Codec: pipeline.AAC, SampleRate: 48000, Channels: 2}, 0, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, herr := planAudio(offered, &tc.track)
			if tc.status != 0 {
				if herr == nil || herr.Status != tc.status {
					t.Fatalf("got %v, want %d", herr, tc.status)
				}
				return
			}
			if herr != nil {
				t.Fatal(herr)
			}
			if uint8(c.PayloadType) != tc.pt {
				t.Errorf("PT %d, want %d", c.PayloadType, tc.pt)
			}
		})
	}
}

func TestConfigValidateNamesField(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"port", Config{UDPPort: 70000}, "udp_port"},
		{"public ip", Config{PublicIPs: []string{"example.com"}}, "public_ips[0]"},
		{"ice url", Config{ICEServers: []ICEServer{{URLs: []string{"http://x"}}}}, "ice_servers[0].urls[0]"},
		{"turn without user", Config{ICEServers: []ICEServer{{URLs: []string{"turn:x:3478"}}}}, "ice_servers[0]"},
		{"ring", Config{VideoRing: 1000}, "video_ring"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if err := (Config{UDPPort: 8189, PublicIPs: []string{"203.0.113.7"}, ICEServers: []ICEServer{{URLs: []string{"stun:stun.l.google.com:19302"}}}}).Validate(); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

func TestParseICEServers(t *testing.T) {
	got, err := ParseICEServers([]string{"stun:stun.example.net:3478", "turn:alice:s3cret@turn.example.net:3478?transport=udp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Username != "" || got[1].URLs[0] != "turn:turn.example.net:3478?transport=udp" ||
		got[1].Username != "alice" || got[1].Credential != "s3cret" {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseICEServers([]string{"https://example.net"}); err == nil || !strings.HasPrefix(err.Error(), "ice_servers[0]") {
		t.Errorf("bad URL: %v", err)
	}
}
