package camsim

import (
	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// handler answers RTSP requests for the cameras. gortsplib calls it from
// its connection and session goroutines.
type handler struct {
	sim *Sim
}

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.sim.log.Debug("connection opened", "remote", ctx.Conn.NetConn().RemoteAddr().String())
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.sim.log.Debug("connection closed", "remote", ctx.Conn.NetConn().RemoteAddr().String(), "reason", ctx.Error)
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	return h.stream(ctx.Path)
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusMethodNotAllowed}, nil, nil // cameras do not take publishers
	}
	if res, err := h.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	return h.stream(ctx.Path)
}

// OnPlay counts a reader, which wakes an idle camera.
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	c := h.sim.camera(ctx.Path)
	if c == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil
	}
	if ctx.Session.UserData() == nil {
		ctx.Session.SetUserData(c)
		c.readerStarted()
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnPause(ctx *gortsplib.ServerHandlerOnPauseCtx) (*base.Response, error) {
	h.stopReader(ctx.Session)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.stopReader(ctx.Session)
}

func (h *handler) stopReader(ss *gortsplib.ServerSession) {
	if c, ok := ss.UserData().(*camera); ok {
		ss.SetUserData(nil)
		c.readerStopped()
	}
}

// authorize answers 401 unless the request carries the configured
// credentials (Basic or Digest; gortsplib sends the challenge).
func (h *handler) authorize(conn *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	if h.sim.cfg.User == "" {
		return nil, nil
	}
	if conn.VerifyCredentials(req, h.sim.cfg.User, h.sim.cfg.Pass) {
		return nil, nil
	}
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

// stream answers 404 for an unknown path and 503 for a camera that is not
// ready yet or was dropped.
func (h *handler) stream(path string) (*base.Response, *gortsplib.ServerStream, error) {
	c := h.sim.camera(path)
	if c == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	st := c.currentStream()
	if st == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}
