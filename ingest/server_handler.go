package ingest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// statusConflict is HTTP's 409, which RTSP 1.0 lacks; clients treat it as
// a 4xx refusal and show the reason phrase.
const statusConflict base.StatusCode = 409

// rtspHandler receives gortsplib's callbacks. Publishers are tagged with
// their *PushSource and readers with their *servedPath (session user data),
// so that the session's end reaches the right owner.
type rtspHandler struct{ s *Server }

// refusal is a response whose reason phrase says why, so that ffmpeg and
// decoders show it ("404 Not Found: no push source \"x\"").
func refusal(code base.StatusCode, format string, args ...any) *base.Response {
	reason := fmt.Sprintf(format, args...)
	reason = strings.NewReplacer("\r", " ", "\n", " ").Replace(reason)
	std, ok := base.StatusMessages[code]
	if code == statusConflict {
		std, ok = "Conflict", true
	}
	if ok {
		reason = std + ": " + reason
	}
	return &base.Response{StatusCode: code, StatusMessage: reason}
}

func ok() *base.Response { return &base.Response{StatusCode: base.StatusOK} }

func (h *rtspHandler) OnSessionOpen(*gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.s.sessions.Add(1)
}

func (h *rtspHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.s.sessions.Add(-1)
	h.s.access.untrack(ctx.Session)
	switch owner := ctx.Session.UserData().(type) {
	case *servedPath:
		owner.removeViewer(ctx.Session)
	case *PushSource:
		owner.sessionClosed(ctx.Session, ctx.Error)
	}
}

func (h *rtspHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	name := cleanPath(ctx.Path)
	if _, res, err := h.authorizeReader(ctx.Conn, ctx.Request, name); res != nil {
		return res, nil, err
	}
	st, res := h.readerStream(name)
	return res, st, nil
}

// readerStream finds the ServerStream a reader of name gets, or the refusal.
func (h *rtspHandler) readerStream(name string) (*gortsplib.ServerStream, *base.Response) {
	if strings.HasPrefix(name+"/", ingestPathPrefix) {
		id := strings.TrimPrefix(name, ingestPathPrefix)
		return nil, refusal(base.StatusNotFound, "/%s is for publishing; read rtsp://HOST/sources/%s", name, id)
	}
	p := h.s.servedPath(name)
	if p == nil {
		return nil, refusal(base.StatusNotFound, "nothing is served at /%s", name)
	}
	out, err := p.current()
	switch {
	case errors.Is(err, errNoMedia):
		return nil, refusal(base.StatusServiceUnavailable, "/%s has no media yet (source not online)", name)
	case err != nil:
		return nil, refusal(base.StatusServiceUnavailable, "/%s: %v", name, err)
	}
	return out.ss, ok()
}

func (h *rtspHandler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	name := cleanPath(ctx.Path)
	if !strings.HasPrefix(name, ingestPathPrefix) {
		return refusal(base.StatusMethodNotAllowed, "publish to rtsp://HOST/ingest/{source-id}, not /%s", name), nil
	}
	id := strings.TrimPrefix(name, ingestPathPrefix)
	p := h.s.pushSource(id)
	if p == nil {
		return refusal(base.StatusNotFound, "no push source %q", id), nil
	}
	res, err := p.announce(ctx)
	// Refusals an outsider can cause at will are counted and summarised,
	// never logged one by one.
	remote := ctx.Conn.NetConn().RemoteAddr().String()
	switch {
	case res.StatusCode == base.StatusUnauthorized && len(ctx.Request.Header["Authorization"]) > 0:
		h.s.access.failed(authPublishCredentials, fmt.Sprintf("/%s from %s", name, remote))
	case res.StatusCode == statusConflict:
		h.s.access.failed(authPublishBusy, fmt.Sprintf("/%s from %s", name, remote))
	}
	return res, err
}

func (h *rtspHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		// A publisher setting up the medias it announced.
		if _, isPub := ctx.Session.UserData().(*PushSource); !isPub {
			return refusal(base.StatusBadRequest, "session is not publishing"), nil, nil
		}
		return ok(), nil, nil
	}
	// gortsplib requires every SETUP of a session to name the same stream.
	if st := ctx.Session.SetuppedStream(); st != nil {
		return ok(), st, nil
	}
	// A reader may SETUP without DESCRIBE: it is asked again here, and the
	// session keeps the grant it came in with, so that ending the grant
	// ends the session.
	name := cleanPath(ctx.Path)
	grant, res, err := h.authorizeReader(ctx.Conn, ctx.Request, name)
	if res != nil {
		return res, nil, err
	}
	st, res := h.readerStream(name)
	if st != nil && !h.s.access.track(ctx.Session, grant, name) {
		return refusal(base.StatusUnauthorized, "the invite was revoked"), nil, nil
	}
	return res, st, nil
}

func (h *rtspHandler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	name := cleanPath(ctx.Session.SetuppedPath())
	p := h.s.servedPath(name)
	if p == nil {
		return refusal(base.StatusNotFound, "nothing is served at /%s", name), nil
	}
	if err := p.addViewer(ctx.Session); err != nil {
		return refusal(base.StatusServiceUnavailable, "/%s: %v", name, err), nil
	}
	ctx.Session.SetUserData(p)
	return ok(), nil
}

func (h *rtspHandler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	p, isPub := ctx.Session.UserData().(*PushSource)
	if !isPub {
		return refusal(base.StatusBadRequest, "session is not publishing"), nil
	}
	return p.record(ctx)
}

func (h *rtspHandler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	if p, isPub := ctx.Session.UserData().(*PushSource); isPub {
		p.tracker.Lost(ctx.Lost)
	}
}

func (h *rtspHandler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	who := "reader"
	if p, isPub := ctx.Session.UserData().(*PushSource); isPub {
		who = "source " + p.ID()
	}
	h.s.rtpErrors.add(who + ": " + ctx.Error.Error())
}

func (h *rtspHandler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.writeErrors.add(ctx.Error.Error())
}
