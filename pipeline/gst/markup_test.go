package gst

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

func TestMarkupText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"UBND Tỉnh", "UBND Tỉnh"},
		{"A & B <i>", "A &amp; B &lt;i&gt;"},
		{`<span size="90000">X</span>`, "&lt;span size=&quot;90000&quot;&gt;X&lt;/span&gt;"},
		{"Xã 'Mỹ' \"An\"", "Xã &#39;Mỹ&#39; &quot;An&quot;"},
		{"MẤT TÍN HIỆU\nUBND xã A", "MẤT TÍN HIỆU\nUBND xã A"},
		{"bell\x07 esc\x1b del\x7f c1\u0085", "bell esc del c1"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"&amp;", "&amp;amp;"},
	}
	for _, tc := range cases {
		if got := markupText(tc.in); got != tc.want {
			t.Errorf("markupText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// litPixels renders text with textoverlay on one black 320x180 picture,
// the text property set as the mixer sets it, and counts the bright luma
// samples: the glyphs.
func litPixels(t *testing.T, text string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var frame []byte
	r, err := NewRunner(RunnerConfig{
		Name: "label",
		Launch: "videotestsrc num-buffers=1 pattern=black ! video/x-raw,format=I420,width=320,height=180,framerate=30/1" +
			" ! textoverlay text=" + quote(text) + " font-desc=" + quote(DefaultFont+" Bold 14") +
			" halignment=left valignment=top shaded-background=false ! appsink name=out sync=false",
		Sinks: []SinkConfig{{Name: "out", Lossless: true, OnSample: func(s Sample) {
			mu.Lock()
			frame = s.Data
			mu.Unlock()
		}}},
	}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(frame) < 320*180 {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	n := 0
	for _, y := range frame[:320*180] {
		if y > 128 {
			n++
		}
	}
	return n
}

// TestLabelRendersAsText: a label with markup characters is drawn, as the
// characters typed, where unescaped it drew nothing; injected markup is
// shown as text, not obeyed.
func TestLabelRendersAsText(t *testing.T) {
	needElements(t, "videotestsrc", "textoverlay")
	none := litPixels(t, "")
	if none != 0 {
		t.Fatalf("no text: %d bright pixels on black", none)
	}
	raw := litPixels(t, "A & B <i>")
	escaped := litPixels(t, markupText("A & B <i>"))
	// The same glyph count without the markup characters, for scale.
	plain := litPixels(t, "A x B xix")
	t.Logf("bright pixels: none %d, unescaped %d, escaped %d, plain look-alike %d", none, raw, escaped, plain)
	if raw != 0 {
		t.Logf("note: this GStreamer drew the unescaped label (%d pixels)", raw)
	}
	if escaped < plain/2 || escaped > plain*2 {
		t.Errorf("escaped label: %d bright pixels, want about as many as %q (%d)", escaped, "A x B xix", plain)
	}
	// Markup that would blow the text up to fill the picture is shown as
	// its own characters instead.
	huge := litPixels(t, `<span size="60000">W</span>`)
	literal := litPixels(t, markupText(`<span size="60000">W</span>`))
	t.Logf("bright pixels: injected markup obeyed %d, escaped %d", huge, literal)
	if literal == 0 || literal >= huge {
		t.Errorf("escaped markup: %d bright pixels, want some, and fewer than the obeyed markup's %d", literal, huge)
	}
}

// TestMixLabelEscaped: the label and slate text a Mix gives textoverlay
// are escaped.
func TestMixLabelEscaped(t *testing.T) {
	needElements(t, "compositor", "audiomixer", "opusenc", "textoverlay")
	mix := startMix(t, MixSpec{Width: 320, Height: 180, FPS: 30, Points: 1}, MixSinks{})
	mix.SetTile(0, MixTile{W: 320, H: 180, Z: 10, Visible: true})
	mix.SetLabel(0, "A & B <i>")
	mix.SetSlate(0, true, "MẤT TÍN HIỆU\nA & B <i>")
	for name, el := range map[string]interface {
		GetProperty(string) (any, error)
	}{"label": mix.labels[0], "slate": mix.slateTexts[0]} {
		v, err := el.GetProperty("text")
		if err != nil {
			t.Fatal(err)
		}
		want := "A &amp; B &lt;i&gt;"
		if name == "slate" {
			want = "MẤT TÍN HIỆU\n" + want
		}
		if got := fmt.Sprint(v); got != want {
			t.Errorf("%s text property %q, want %q", name, got, want)
		}
	}
}
