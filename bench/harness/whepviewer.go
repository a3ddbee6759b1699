package harness

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/bench/whepclient"
)

// whepViewer is one viewer that counts whole video frames (RTP marker
// bits), from the first keyframe on: the reference the load generator's
// packet counts are read against, and the "new viewer" whose first-frame
// time a run reports.
type whepViewer struct {
	conn *whepclient.Viewer

	// Under frameTally's mu, with it:
	frameTally
	keyed   bool   // saw the start of a keyframe
	packets uint64 // video packets from the first keyframe on
	lost    uint64
}

// dialWHEP posts an offer to base+path and returns once the answer is
// applied; frames are counted as they come.
func dialWHEP(ctx context.Context, base, path, token string, fps int) (*whepViewer, error) {
	api, err := whepclient.NewAPI()
	if err != nil {
		return nil, err
	}
	v := &whepViewer{frameTally: frameTally{name: "whep " + path, frameTicks: uint32(90000 / max(fps, 1)), started: time.Now()}}
	conn, err := whepclient.Dial(ctx, api, base, path, token, v.read)
	if err != nil {
		return nil, err
	}
	v.conn = conn
	return v, nil
}

// read counts the video track's frames and throws the audio away.
func (v *whepViewer) read(tr *webrtc.TrackRemote) {
	if tr.Kind() != webrtc.RTPCodecTypeVideo {
		whepclient.EachPacket(tr, func([]byte) {})
		return
	}
	var gaps whepclient.SeqGaps
	whepclient.EachPacket(tr, func(pkt []byte) { v.videoPacket(pkt, &gaps) })
}

func (v *whepViewer) videoPacket(pkt []byte, gaps *whepclient.SeqGaps) {
	n := len(pkt)
	if n < 13 {
		return
	}
	// The fixed RTP header; the payload starts after CSRCs and the
	// extension, which the relay and the composite both send.
	marker := pkt[1]&0x80 != 0
	seq := uint16(pkt[2])<<8 | uint16(pkt[3])
	ts := uint32(pkt[4])<<24 | uint32(pkt[5])<<16 | uint32(pkt[6])<<8 | uint32(pkt[7])
	off := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 && n >= off+4 {
		off += 4 + 4*(int(pkt[off+2])<<8|int(pkt[off+3]))
	}
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lost += gaps.Next(seq)
	if !v.keyed && off < n && h264StartsKeyframe(pkt[off:n]) {
		v.keyed = true
	}
	if !v.keyed {
		return
	}
	v.packets++
	if marker {
		v.wholeFrame(ts, now)
	}
}

// h264StartsKeyframe says whether an RTP H.264 payload (RFC 6184) carries
// the start of an IDR picture, or the SPS that comes before one.
func h264StartsKeyframe(p []byte) bool {
	switch t := p[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24: // STAP-A: 16-bit sizes, then NAL units
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if size == 0 {
				return false
			}
			if nt := p[i+2] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += 2 + size
		}
	case 28: // FU-A: start bit and the NAL type in the FU header
		return len(p) > 1 && p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false
}

// viewerCounts is a snapshot of a viewer's counters.
type viewerCounts struct {
	frames, packets, lost, missing uint64
	at                             time.Time
}

func (v *whepViewer) counts() viewerCounts {
	v.mu.Lock()
	defer v.mu.Unlock()
	return viewerCounts{frames: v.frames, packets: v.packets, lost: v.lost, missing: v.missing, at: time.Now()}
}

// close ends the viewer (DELETE of its resource) and waits for its readers.
func (v *whepViewer) close() { v.conn.Close() }
