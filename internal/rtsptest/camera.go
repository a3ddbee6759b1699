// Package rtsptest is a stand-in RTSP camera for tests and benchmarks: a
// gortsplib server that hands every path the one stream its caller writes
// (the caller owns the clock and the packets). A camera that checks
// logins or drops connections is a test's own.
package rtsptest

import (
	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
)

// Camera is a running server and the stream it serves at every path.
type Camera struct {
	Server *gortsplib.Server
	Stream *gortsplib.ServerStream
}

// Start starts srv, configured but for its Handler (the camera), with one
// stream of desc.
func Start(srv *gortsplib.Server, desc *description.Session) (*Camera, error) {
	c := &Camera{Server: srv}
	srv.Handler = c
	if err := srv.Start(); err != nil {
		return nil, err
	}
	st := &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := st.Initialize(); err != nil {
		srv.Close()
		return nil, err
	}
	c.Stream = st
	return c, nil
}

// Close ends the stream and the server; the caller has stopped writing.
func (c *Camera) Close() {
	c.Stream.Close()
	c.Server.Close()
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (c *Camera) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, c.Stream, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (c *Camera) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, c.Stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (c *Camera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}
