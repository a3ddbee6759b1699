package harness

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/ingest/avsync"
)

func TestFlashDelay(t *testing.T) {
	sec := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name  string
		at    time.Time
		phase time.Duration
		want  time.Duration
	}{
		{"on the second", sec.Add(120 * time.Millisecond), 0, 120 * time.Millisecond},
		{"camera flashing a quarter in", sec.Add(400 * time.Millisecond), 250 * time.Millisecond, 150 * time.Millisecond},
		{"arrived in the next second", sec.Add(100 * time.Millisecond), 750 * time.Millisecond, 350 * time.Millisecond},
		{"the moment it left", sec.Add(500 * time.Millisecond), 500 * time.Millisecond, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := flashDelay(tc.at, tc.phase); got != tc.want {
				t.Errorf("flashDelay = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTileMiddles(t *testing.T) {
	tests := []struct {
		name   string
		points int
		// the middle of each tile, in fractions of the picture
		want [][2]float64
	}{
		{"one point fills the picture", 1, [][2]float64{{0.5, 0.45}}},
		{"four in a 2×2 grid", 4, [][2]float64{{0.25, 0.225}, {0.75, 0.225}, {0.25, 0.725}, {0.75, 0.725}}},
		{"three: the last row centred", 3, [][2]float64{{0.25, 0.225}, {0.75, 0.225}, {0.5, 0.725}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tileMiddles(tc.points, 1280, 720)
			if len(got) != len(tc.want) {
				t.Fatalf("%d tiles, want %d", len(got), len(tc.want))
			}
			for i, r := range got {
				cx, cy := (r.x0+r.x1)/2, (r.y0+r.y1)/2
				if math.Abs(cx-tc.want[i][0]) > 0.01 || math.Abs(cy-tc.want[i][1]) > 0.01 {
					t.Errorf("tile %d middle at %.3f,%.3f, want %.3f,%.3f", i, cx, cy, tc.want[i][0], tc.want[i][1])
				}
			}
		})
	}
}

func TestFlashOnsets(t *testing.T) {
	pic := func(ms int, tile int, v uint8) avsync.Picture {
		p := avsync.Picture{PTS: time.Duration(ms) * time.Millisecond, Luma: make([]uint8, avsync.GridW*avsync.GridH)}
		for i := range p.Luma {
			if x := i % avsync.GridW; (x < avsync.GridW/2) == (tile == 0) {
				p.Luma[i] = v
			}
		}
		return p
	}
	left, right := rectF{0.1, 0.1, 0.4, 0.9}, rectF{0.6, 0.1, 0.9, 0.9}
	pics := []avsync.Picture{pic(0, 0, 10), pic(33, 0, 255), pic(66, 0, 255), pic(100, 0, 20), pic(133, 1, 250), pic(166, 1, 30), pic(200, 0, 240)}
	if got := flashOnsets(pics, left); len(got) != 2 || got[0] != 33*time.Millisecond || got[1] != 200*time.Millisecond {
		t.Errorf("left tile: onsets %v, want 33ms and 200ms (a held white is one flash)", got)
	}
	if got := flashOnsets(pics, right); len(got) != 1 || got[0] != 133*time.Millisecond {
		t.Errorf("right tile: onsets %v, want 133ms", got)
	}
}

// TestArrivalTiming runs the latency viewer's analysis on H.264 that
// ffmpeg encoded (a white flash every second at 30 fps), packetised to RTP
// and "received" 137 ms after each frame was due: writing the arrival MP4,
// decoding it with the meter's ffmpeg and finding the flashes must give
// back 137 ms for every flash.
func TestArrivalTiming(t *testing.T) {
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "flash.h264")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ff := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i",
		"color=c=black:s=320x180:r=30:d=4,drawbox=w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,1)\\,0.1)'",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-x264-params", "aud=1", "-f", "h264", raw)
	if out, err := ff.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte // split at each access unit delimiter
	for _, n := range nalus {
		if h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			aus = append(aus, nil)
			continue
		}
		if len(aus) > 0 {
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	if len(aus) != 120 {
		t.Fatalf("%d access units, want 120", len(aus))
	}
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	const delay = 137 * time.Millisecond
	start := time.Unix(1_700_000_000, 0) // frame 0, a flash, left the camera on a whole second
	v := &flashViewer{path: "/test"}
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		due := start.Add(time.Duration(i) * time.Second / 30)
		for j, p := range pkts {
			p.Timestamp = uint32(i * 3000)
			// The frame's packets trickle in; the last completes it.
			v.pkts = append(v.pkts, arrival{p, due.Add(delay - time.Duration(len(pkts)-1-j)*time.Millisecond)})
		}
	}
	ms, err := v.flashLatencies(ctx, dir, []rectF{{0.25, 0.2, 0.75, 0.7}}, []time.Duration{0})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 { // the first flash opens the file: nothing dark before it
		t.Fatalf("%d flashes timed (%v), want 3", len(ms), ms)
	}
	for _, m := range ms {
		if math.Abs(m-137) > 0.5 {
			t.Errorf("flash timed at %.2f ms, want 137", m)
		}
	}
}
