package whep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"diemcau/pipeline"
)

// newViewer makes the peer connection for an offer and returns the answer.
func (s *Server) newViewer(ctx context.Context, t Target, g Grant, q quotaKey, stream *pipeline.Stream, o *offer, plan *mediaPlan) (*viewer, string, *httpError) {
	var lower []*pipeline.Stream
	if lr, ok := s.resolver.(LowResolver); ok && t.Session != "" {
		if low := lr.SessionLow(t.Session, t.Point); low != nil {
			lower = append(lower, low)
		}
	}
	res, herr := s.reserve(stream, t, q, lower...)
	if herr != nil {
		return nil, "", herr
	}
	v, answer, err := s.connect(ctx, res, t, o, plan)
	if err != nil {
		s.release(res)
		return nil, "", err
	}
	v.grant = g
	admitted := s.admit(v)
	go func() {
		defer s.wg.Done()
		v.run(res.runCtx)
	}()
	if !admitted {
		v.close("invite revoked while connecting")
		return nil, "", errorf(http.StatusUnauthorized, "unauthorized", "the invite was revoked")
	}
	return v, answer, nil
}

func (s *Server) connect(ctx context.Context, res *reservation, t Target, o *offer, plan *mediaPlan) (*viewer, string, *httpError) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(plan.video, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, "", errorf(http.StatusInternalServerError, "internal", "register video codec: %v", err)
	}
	if plan.audio != nil {
		if err := me.RegisterCodec(*plan.audio, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, "", errorf(http.StatusInternalServerError, "internal", "register audio codec: %v", err)
		}
	}
	// Only sender reports (on the frames' timeline: sender_reports.go), which
	// browsers need for lip sync. No NACK
	// responder (it would keep a copy of every packet per viewer: the
	// stream's ring answers NACKs), no TWCC, no stats interceptor.
	ir := &interceptor.Registry{}
	ir.Add(senderReportsFactory{rtpAt: res.bc.rtpAt})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(res.net.setting), webrtc.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{res.cert}})
	if err != nil {
		return nil, "", errorf(http.StatusInternalServerError, "internal", "peer connection: %v", err)
	}
	v := &viewer{
		id:        newResourceID(),
		target:    t,
		srv:       s,
		bc:        res.bc,
		shard:     res.bc.assign(),
		ladder:    newLadderControl(len(res.bc.rungs)),
		quota:     res.quota,
		pc:        pc,
		created:   time.Now(),
		stateWake: make(chan struct{}, 1),
		closeReq:  make(chan struct{}),
	}
	fail := func(status int, code, format string, args ...any) (*viewer, string, *httpError) {
		_ = pc.Close()
		res.bc.unassign(v.shard)
		return nil, "", errorf(status, code, format, args...)
	}
	kinds := []pipeline.Kind{pipeline.Video}
	mimes := []string{plan.video.MimeType}
	if plan.audio != nil {
		kinds = append(kinds, pipeline.Audio)
		mimes = append(mimes, plan.audio.MimeType)
	}
	for i, k := range kinds {
		lt := &localTrack{kind: k, mime: mimes[i], bc: res.bc, v: v, streamID: "diemcau"}
		sender, err := pc.AddTrack(lt)
		if err != nil {
			return fail(http.StatusInternalServerError, "internal", "add %s track: %v", k, err)
		}
		v.tracks = append(v.tracks, lt)
		v.senders = append(v.senders, sender)
	}
	pc.OnConnectionStateChange(v.onState)
	answer, herr := answerOffer(ctx, pc, o.sdp)
	if herr != nil {
		return fail(herr.Status, herr.Code, "%s", herr.Message)
	}
	return v, answer, nil
}

func newResourceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
