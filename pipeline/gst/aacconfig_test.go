package gst

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// TestAACConfigOf asks each installed AAC encoder for its config: AAC-LC,
// 48 kHz, stereo, as the mix encodes it; avenc_aac's carries the sync
// extension that made a guessed 11 90 wrong; the answer is kept.
func TestAACConfigOf(t *testing.T) {
	cases := []struct {
		encoder string
		want    string // hex; "" any valid AAC-LC 48 kHz stereo config
	}{
		{"avenc_aac", "119056e500"},
		{"fdkaacenc", ""},
	}
	ran := 0
	for _, tc := range cases {
		t.Run(tc.encoder, func(t *testing.T) {
			needElements(t, tc.encoder, "aacparse", "audiotestsrc")
			ran++
			asc, err := aacConfigOf(tc.encoder, DefaultAACBitrate)
			if err != nil {
				t.Fatal(err)
			}
			var c mpeg4audio.AudioSpecificConfig
			if err := c.Unmarshal(asc); err != nil {
				t.Fatalf("config %x: %v", asc, err)
			}
			if c.Type != mpeg4audio.ObjectTypeAACLC || c.SampleRate != MixAudioRate || c.ChannelCount != MixAudioChannels {
				t.Errorf("config %x: %+v, want AAC-LC %d Hz %d channels", asc, c, MixAudioRate, MixAudioChannels)
			}
			if tc.want != "" && hex.EncodeToString(asc) != tc.want {
				t.Errorf("config %x, want %s", asc, tc.want)
			}
			again, err := aacConfigOf(tc.encoder, DefaultAACBitrate)
			if err != nil || !bytes.Equal(again, asc) || &again[0] != &asc[0] {
				t.Errorf("second ask: %x, %v; want the kept %x", again, err, asc)
			}
		})
	}
	if ran == 0 {
		t.Skip("no AAC encoder installed")
	}
	if _, err := aacConfigOf("", DefaultAACBitrate); err == nil {
		t.Error("no encoder: want an error")
	}
}
