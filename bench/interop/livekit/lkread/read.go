package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// summary is what read prints.
type summary struct {
	File   string         `json:"file"`
	Clock  string         `json:"clock"`
	Tracks []trackSummary `json:"tracks"`
}

type trackSummary struct {
	Participant string `json:"participant"`
	Kind        string `json:"kind"`
	Mime        string `json:"mime"`
	ClockRate   uint32 `json:"clock_rate"`
	Channels    uint16 `json:"channels"`
	Packets     int    `json:"packets"`
	SRs         int    `json:"sender_reports"`
	Samples     int    `json:"samples"`
	// Arrived is the span between the first and the last packet's
	// arrival; Media, the span of their RTP times: a sender that bursts
	// or lags shows here.
	Arrived float64 `json:"arrived_s"`
	Media   float64 `json:"media_s"`
}

// read joins the room as a viewer, records every track it is sent for d
// from the first media packet, and writes them to out.
func read(ctx context.Context, url, token string, d time.Duration, out string) (summary, error) {
	rec := &recording{}
	var readers sync.WaitGroup
	var mu sync.Mutex
	closed := false
	firstPacket := make(chan struct{})
	var once sync.Once
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(tr *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				return
			}
			c := tr.Codec()
			t := rec.track(rp.Identity(), tr.Kind(), c.MimeType, c.ClockRate, c.Channels, uint32(tr.SSRC()))
			// The client reads the receiver's RTCP (its interceptors need
			// it) and hands each packet here.
			pub.OnRTCP(func(p rtcp.Packet) {
				if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == t.ssrc {
					t.addSR(ntpDuration(sr.NTPTime), sr.RTPTime)
				}
			})
			readers.Go(func() {
				for {
					p, _, err := tr.ReadRTP()
					if err != nil {
						return
					}
					rec.add(t, p, time.Now())
					once.Do(func() { close(firstPacket) })
				}
			})
		},
	}}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithAutoSubscribe(true), lksdk.WithDisableRegionDiscovery())
	if err != nil {
		return summary{}, fmt.Errorf("join %s: %w", url, err)
	}
	defer func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		room.Disconnect()
		readers.Wait()
	}()
	select {
	case <-firstPacket:
	case <-ctx.Done():
		return summary{}, fmt.Errorf("no media from the room: %w", ctx.Err())
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return summary{}, fmt.Errorf("recording: %w", ctx.Err())
	}
	sum := summary{File: out}
	clock, err := rec.write(out, func(t *rtpTrack, samples int) {
		t.mu.Lock()
		defer t.mu.Unlock()
		sum.Tracks = append(sum.Tracks, trackSummary{Participant: t.participant, Kind: t.kind.String(), Mime: t.mime,
			ClockRate: t.clockRate, Channels: t.channels, Packets: len(t.pkts), SRs: len(t.srs), Samples: samples,
			Arrived: t.last.Sub(t.first).Seconds(), Media: mediaSpan(t.pkts, t.clockRate)})
	})
	sum.Clock = clock
	if err != nil {
		return sum, err
	}
	if !strings.Contains(clock, "video") || !strings.Contains(clock, "audio") {
		return sum, fmt.Errorf("want a video and an audio track, got %q", clock)
	}
	return sum, nil
}

// ntpDuration is a 64-bit NTP time as a duration since the NTP era.
func ntpDuration(ntp uint64) time.Duration {
	sec, frac := ntp>>32, ntp&0xffffffff
	return time.Duration(sec)*time.Second + time.Duration(frac*uint64(time.Second)>>32)
}

// mediaSpan is the span of the packets' RTP times, in seconds.
func mediaSpan(pkts []*rtp.Packet, rate uint32) float64 {
	if len(pkts) == 0 || rate == 0 {
		return 0
	}
	var lo, hi, ext int64
	for i, p := range pkts {
		if i > 0 {
			ext += int64(int32(p.Timestamp - pkts[i-1].Timestamp))
		}
		lo, hi = min(lo, ext), max(hi, ext)
	}
	return float64(hi-lo) / float64(rate)
}
