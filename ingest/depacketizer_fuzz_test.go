package ingest

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/sdp"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// The depacketizer takes whatever a camera or encoder sends. Each target
// describes one codec as a camera's SDP does and feeds the input as a run
// of RTP packets, each prefixed by its length (2 bytes, big endian). The
// seeds under testdata/fuzz/ are ffmpeg's own RTP output (its rtp muxer,
// 320x180 libx264/libx265 at 15 fps, AAC, AAC-LATM and Opus at 48 kHz),
// captured off loopback, whole and with a packet lost.

// Camera-like SDPs of the seeds' streams: the parameter sets are those the
// seed streams carry in band.
const (
	fuzzSDPH264 = "v=0\r\no=- 0 0 IN IP4 192.0.2.10\r\ns=Media Presentation\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=control:trackID=1\r\na=rtpmap:96 H264/90000\r\n" +
		"a=fmtp:96 profile-level-id=4D400C;packetization-mode=1;sprop-parameter-sets=Z01ADNkBQZ+fARAAAAMAEAAAAwHg8UKkgA==,aOvMsg==\r\n"
	fuzzSDPH265 = "v=0\r\no=- 0 0 IN IP4 192.0.2.10\r\ns=Media Presentation\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=control:trackID=1\r\na=rtpmap:96 H265/90000\r\n" +
		"a=fmtp:96 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwA8koCQ; sprop-sps=QgEBAWAAAAMAkAAAAwAAAwA8oAoIC595ZKkkyvAWgIAAAAMAgAAAB4Q=; sprop-pps=RAHBcrRiQA==\r\n"
	fuzzSDPAAC = "v=0\r\no=- 0 0 IN IP4 192.0.2.10\r\ns=Media Presentation\r\nt=0 0\r\n" +
		"m=audio 0 RTP/AVP 97\r\na=control:trackID=2\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n" +
		"a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=119056E500\r\n"
	fuzzSDPLATM = "v=0\r\no=- 0 0 IN IP4 192.0.2.10\r\ns=Media Presentation\r\nt=0 0\r\n" +
		"m=audio 0 RTP/AVP 97\r\na=control:trackID=2\r\na=rtpmap:97 MP4A-LATM/48000/2\r\n" +
		"a=fmtp:97 profile-level-id=41;cpresent=0;config=400023203fc0\r\n"
	fuzzSDPOpus = "v=0\r\no=- 0 0 IN IP4 192.0.2.10\r\ns=Media Presentation\r\nt=0 0\r\n" +
		"m=audio 0 RTP/AVP 97\r\na=control:trackID=2\r\na=rtpmap:97 opus/48000/2\r\na=fmtp:97 sprop-stereo=1\r\n"
)

func FuzzDepacketizeH264(f *testing.F) { fuzzDepacketizer(f, fuzzSDPH264, pipeline.Video) }
func FuzzDepacketizeH265(f *testing.F) { fuzzDepacketizer(f, fuzzSDPH265, pipeline.Video) }
func FuzzDepacketizeAAC(f *testing.F)  { fuzzDepacketizer(f, fuzzSDPAAC, pipeline.Audio) }
func FuzzDepacketizeLATM(f *testing.F) { fuzzDepacketizer(f, fuzzSDPLATM, pipeline.Audio) }
func FuzzDepacketizeOpus(f *testing.F) { fuzzDepacketizer(f, fuzzSDPOpus, pipeline.Audio) }

// fuzzDepacketizer checks that no packet run makes the depacketizer panic,
// and that what it hands on is well formed: every frame on one of the
// current tracks, of the media's kind, with data and no empty NAL unit,
// and no more errors counted than packets given.
func fuzzDepacketizer(f *testing.F, sdpText string, kind pipeline.Kind) {
	if _, err := describeSDP([]byte(sdpText)); err != nil {
		f.Fatalf("the target's SDP: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A fresh description each time: formats keep state.
		desc, _ := describeSDP([]byte(sdpText))
		d, err := NewDepacketizer("fuzz", desc)
		if err != nil {
			t.Fatalf("the target's SDP: %v", err)
		}
		m := d.Medias()[0]
		var (
			packets int
			pts     ptsUnwrap
		)
		for _, raw := range splitPackets(data) {
			var pkt rtp.Packet
			if pkt.Unmarshal(raw) != nil {
				continue
			}
			packets++
			for _, fr := range d.HandlePacket(m, &pkt, pts.next(pkt.Timestamp), time.Time{}) {
				checkFrame(t, fr, d.Tracks(), kind)
			}
		}
		if e := d.Errors(); e > uint64(packets) {
			t.Fatalf("%d errors counted for %d packets", e, packets)
		}
	})
}

func checkFrame(t *testing.T, fr *pipeline.Frame, tracks []*pipeline.Track, kind pipeline.Kind) {
	t.Helper()
	known := false
	for _, tr := range tracks {
		known = known || fr.Track == tr
	}
	switch {
	case fr.Track == nil || !known:
		t.Fatalf("frame on a track the depacketizer does not publish: %+v", fr.Track)
	case fr.Track.Kind() != kind:
		t.Fatalf("frame of kind %v on a %v media", fr.Track.Kind(), kind)
	case kind == pipeline.Video && len(fr.NALUs) == 0:
		t.Fatal("video frame without NAL units")
	case kind == pipeline.Audio && len(fr.Payload) == 0:
		t.Fatal("audio frame without data")
	}
	for _, n := range fr.NALUs {
		if len(n) == 0 {
			t.Fatal("empty NAL unit in a frame")
		}
	}
}

// describeSDP reads an SDP as gortsplib's client does after DESCRIBE.
func describeSDP(body []byte) (*description.Session, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, err
	}
	var desc description.Session
	if err := desc.Unmarshal(&sd); err != nil {
		return nil, err
	}
	return &desc, nil
}

// splitPackets cuts a fuzz input into packets: 2 bytes of length, then the
// packet; a short tail is the last packet.
func splitPackets(data []byte) [][]byte {
	var out [][]byte
	for len(data) >= 2 {
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}
