package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// fuzzCameraURL is the probed camera; its password must never reach a
// message or the report.
const (
	fuzzCameraURL  = "rtsp://admin:Pa55-w0rd@192.0.2.10:554/Streaming/Channels/101"
	fuzzCameraPass = "Pa55-w0rd"
)

// FuzzProbeResponse feeds the probe what a camera returns: its answer to
// DESCRIBE (status line, headers, SDP) and then the packets of its stream
// (RTP, and RTCP sender reports for the clock), length-prefixed as in the
// depacketizer targets. The answer is read as gortsplib's client reads it;
// from there on it is the probe's own path: the sniffer's look at the
// first bytes, the classification of a refusal, the codec choice, the
// frame tally, the clock meter and the report. Nothing may panic, every
// failure has a message, no message or report carries the password, and
// the report is valid JSON (no NaN or infinity from the arithmetic) with a
// known verdict. Seeds: answers of the kinds cameras give (Hikvision- and
// Dahua-style SDPs, 401 with a Digest challenge, 404, an HTTP server on
// the RTSP port, an ONVIF back channel, MJPEG only), with ffmpeg's
// H.264/H.265 RTP for the streams.
func FuzzProbeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, answer, packets []byte) {
		desc, err := describeAnswer(answer)
		if err != nil {
			sn := sniffer{first: answer[:min(len(answer), sniffBytes)]}
			if g := sn.garbage(); g != nil {
				err = g // as runPullSession: what the server sent says more
			}
			checkFailure(t, classifyPullError(err, fuzzCameraURL))
			return
		}
		d, err := NewDepacketizer("probe", desc)
		if err != nil {
			checkFailure(t, classifyPullError(err, fuzzCameraURL))
			return
		}
		col := &probeCollector{firstFrame: make(chan struct{})}
		h := col.hooks()
		h.tracks(d.Tracks())
		arrival := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		pts := map[*description.Media]*ptsUnwrap{}
		for _, raw := range splitPackets(packets) {
			arrival = arrival.Add(5 * time.Millisecond)
			if len(raw) >= 2 && raw[1] >= 200 && raw[1] <= 204 {
				rtcps, err := rtcp.Unmarshal(raw)
				if err != nil {
					continue
				}
				for _, p := range rtcps {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						h.senderReport(sr, arrival)
					}
				}
				continue
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(raw) != nil {
				continue
			}
			for _, m := range d.Medias() {
				u := pts[m]
				if u == nil {
					u = &ptsUnwrap{}
					pts[m] = u
				}
				for _, fr := range d.HandlePacket(m, &pkt, u.next(pkt.Timestamp), arrival) {
					h.frame(fr)
				}
				if d.TracksChanged() {
					h.tracks(d.Tracks())
				}
			}
		}
		col.mu.Lock()
		rep := ProbeReport{URL: RedactURL(fuzzCameraURL), Connected: true, Transport: "tcp"}
		col.report(&rep, false)
		col.mu.Unlock()
		out, err := json.Marshal(rep)
		switch {
		case err != nil:
			t.Fatalf("the report is not JSON: %v", err)
		case rep.Verdict != CheckPass && rep.Verdict != CheckWarn && rep.Verdict != CheckFail:
			t.Fatalf("verdict %q", rep.Verdict)
		case bytes.Contains(out, []byte(fuzzCameraPass)):
			t.Fatalf("the report carries the camera's password: %s", out)
		}
	})
}

func checkFailure(t *testing.T, f pullFailure) {
	t.Helper()
	switch {
	case f.msg == "" || f.kind == "":
		t.Fatalf("failure without a kind or message: %+v", f)
	case f.state != StateOffline && f.state != StateError:
		t.Fatalf("failure state %q", f.state)
	case f.retry <= 0:
		t.Fatalf("failure retried after %v", f.retry)
	case strings.Contains(f.msg, fuzzCameraPass):
		t.Fatalf("the message carries the camera's password: %q", f.msg)
	}
}

// describeAnswer reads an answer to DESCRIBE as gortsplib's client does
// (v4.16.2, Client.doDescribe), with the errors it returns.
func describeAnswer(raw []byte) (*description.Session, error) {
	var res base.Response
	if err := res.Unmarshal(bufio.NewReader(bytes.NewReader(raw))); err != nil {
		return nil, err
	}
	if res.StatusCode != base.StatusOK {
		return nil, liberrors.ErrClientBadStatusCode{Code: res.StatusCode, Message: res.StatusMessage}
	}
	ct, ok := res.Header["Content-Type"]
	if !ok || len(ct) != 1 {
		return nil, liberrors.ErrClientContentTypeMissing{}
	}
	if t, _, _ := strings.Cut(ct[0], ";"); t != "application/sdp" {
		return nil, liberrors.ErrClientContentTypeUnsupported{CT: base.HeaderValue{t}}
	}
	desc, err := describeSDP(res.Body)
	if err != nil {
		return nil, liberrors.ErrClientSDPInvalid{Err: err}
	}
	return desc, nil
}

// ptsUnwrap extends 32-bit RTP timestamps as gortsplib does.
type ptsUnwrap struct {
	pts     int64
	prev    uint32
	started bool
}

func (u *ptsUnwrap) next(ts uint32) int64 {
	if u.started {
		u.pts += int64(int32(ts - u.prev))
	}
	u.prev, u.started = ts, true
	return u.pts
}
