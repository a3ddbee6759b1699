package testclip

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// OpusPackets takes the Opus packets out of an Ogg Opus file (RFC 3533
// lacing, RFC 7845), without the OpusHead and OpusTags header packets, and
// the channel count OpusHead gives.
func OpusPackets(b []byte) ([][]byte, int, error) {
	pkts, err := oggPackets(b)
	if err != nil {
		return nil, 0, err
	}
	if len(pkts) < 3 || len(pkts[0]) < 10 || !bytes.HasPrefix(pkts[0], []byte("OpusHead")) {
		return nil, 0, fmt.Errorf("not an Ogg Opus file (%d packets)", len(pkts))
	}
	return pkts[2:], int(pkts[0][9]), nil
}

func oggPackets(b []byte) ([][]byte, error) {
	var out [][]byte
	var cur []byte
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			return nil, fmt.Errorf("ogg: bad page header")
		}
		nseg := int(b[26])
		if len(b) < 27+nseg {
			return nil, fmt.Errorf("ogg: short segment table")
		}
		lacing, body := b[27:27+nseg], b[27+nseg:]
		for _, l := range lacing {
			if len(body) < int(l) {
				return nil, fmt.Errorf("ogg: short page")
			}
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				out = append(out, cur)
				cur = nil
			}
		}
		b = body
	}
	return out, nil
}

// ADTSFrames takes the raw AAC access units out of an ADTS stream, and the
// configuration its first header gives.
func ADTSFrames(b []byte) ([][]byte, *mpeg4audio.AudioSpecificConfig, error) {
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(b); err != nil {
		return nil, nil, fmt.Errorf("adts: %w", err)
	}
	if len(pkts) == 0 {
		return nil, nil, fmt.Errorf("adts: no frames")
	}
	aus := make([][]byte, len(pkts))
	for i, p := range pkts {
		aus[i] = p.AU
	}
	conf := &mpeg4audio.AudioSpecificConfig{Type: pkts[0].Type, SampleRate: pkts[0].SampleRate, ChannelCount: pkts[0].ChannelCount}
	return aus, conf, nil
}

// G711Packets cuts 8 kHz G.711 samples into 20 ms packets; a last part
// shorter than 20 ms is dropped.
func G711Packets(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i+160 <= len(b); i += 160 {
		out = append(out, b[i:i+160])
	}
	return out
}
