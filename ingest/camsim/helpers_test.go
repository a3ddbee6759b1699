package camsim

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"diemcau/internal/testkit"
	"diemcau/pipeline/gst"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needElements(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !gst.HasElement(n) {
			t.Skipf("GStreamer element %s is not installed", n)
		}
	}
}

// startSim runs a camsim on a loopback port until the test ends.
func startSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	needElements(t, "x264enc")
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Width == 0 {
		cfg.Width, cfg.Height = 320, 180
	}
	if cfg.BitrateKbps == 0 {
		cfg.BitrateKbps = 300
	}
	s, err := New(cfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "camsim", s.Run).WaitReady(s.Ready(), 60*time.Second)
	return s
}

// videoUnit is one H.264 access unit as a reader received it.
type videoUnit struct {
	au        [][]byte
	timestamp uint32
	firstSeq  uint16
	at        time.Time
}

// reader is an in-process RTSP client of one camera.
type reader struct {
	client *gortsplib.Client
	mu     sync.Mutex
	units  []videoUnit
	pkts   int
	lastAt time.Time
	audio  bool
}

// dial connects to url, plays it and collects video access units.
func dial(t *testing.T, url string) (*reader, error) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.TransportTCP
	r := &reader{client: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp, ReadTimeout: 5 * time.Second}}
	if err := r.client.Start2(); err != nil {
		return nil, err
	}
	desc, _, err := r.client.Describe(u)
	if err != nil {
		r.client.Close()
		return nil, err
	}
	var h264f *format.H264
	medi := desc.FindFormat(&h264f)
	if medi == nil {
		r.client.Close()
		return nil, errors.New("no H.264 in the SDP")
	}
	var opus *format.Opus
	r.audio = desc.FindFormat(&opus) != nil
	dec, err := h264f.CreateDecoder()
	if err != nil {
		r.client.Close()
		return nil, err
	}
	if err := r.client.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		r.client.Close()
		return nil, err
	}
	var firstSeq uint16
	var inAU bool
	r.client.OnPacketRTP(medi, h264f, func(pkt *rtp.Packet) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.pkts++
		r.lastAt = time.Now()
		if !inAU {
			firstSeq, inAU = pkt.SequenceNumber, true
		}
		au, err := dec.Decode(pkt)
		if err != nil {
			if !errors.Is(err, rtph264.ErrMorePacketsNeeded) {
				inAU = false
			}
			return
		}
		inAU = false
		r.units = append(r.units, videoUnit{au: au, timestamp: pkt.Timestamp, firstSeq: firstSeq, at: time.Now()})
	})
	if _, err := r.client.Play(nil); err != nil {
		r.client.Close()
		return nil, err
	}
	return r, nil
}

func (r *reader) close() { r.client.Close() }

func (r *reader) snapshot() ([]videoUnit, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]videoUnit(nil), r.units...), r.pkts
}

// waitUnits waits until n access units arrived.
func (r *reader) waitUnits(t *testing.T, n int, timeout time.Duration) []videoUnit {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		units, _ := r.snapshot()
		if len(units) >= n {
			return units
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d access units in %v, want %d", len(units), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
