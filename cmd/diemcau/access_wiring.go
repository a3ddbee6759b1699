package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"diemcau/control"
	"diemcau/control/whep"
	"diemcau/ingest"
)

// rtspReadAuthorizer lets RTSP readers in with the control plane's API
// and invite tokens (ingest does not import control).
func rtspReadAuthorizer(api *control.Server) ingest.ReadAuthorizer {
	return func(user, pass, path string) (ingest.ReadGrant, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g, err := api.AuthorizeRead(ctx, user, pass, path)
		switch {
		case errors.Is(err, control.ErrNotAllowed):
			return ingest.ReadGrant{}, ingest.ErrReadForbidden
		case errors.Is(err, control.ErrCredentials):
			return ingest.ReadGrant{}, ingest.ErrReadDenied
		case err != nil:
			return ingest.ReadGrant{}, err
		}
		return ingest.ReadGrant{Who: g.Who(), Invite: g.Invite, Session: g.Session}, nil
	}
}

// whepAuthorizer: operator tokens watch anything; an invite token its own
// session only (never a single source). The grant goes with the viewer so
// that revoking it ends the viewer.
func whepAuthorizer(api *control.Server) whep.Authorizer {
	return func(r *http.Request, t whep.Target) (whep.Grant, bool) {
		g, ok := api.AuthorizeWHEP(r, t.Session, t.Point)
		return whep.Grant{Who: g.Who(), Invite: g.Invite, Session: g.Session}, ok
	}
}

// connRevoker ends WHEP viewers and RTSP readers when the control plane
// revokes what let them in. viewers is set once the WHEP server is made
// (after the API, whose auth it uses), before anything runs.
type connRevoker struct {
	rtsp    *ingest.Server
	viewers *whep.Server
}

func (r *connRevoker) EndInvite(_, inviteID string) {
	r.rtsp.EndInvite(inviteID)
	if r.viewers != nil {
		r.viewers.EndInvite(inviteID)
	}
}

func (r *connRevoker) EndSession(sessionID string) {
	r.rtsp.EndSession(sessionID)
	if r.viewers != nil {
		r.viewers.EndSession(sessionID)
	}
}

// rtspAuthCollector exports the RTSP server's refused logins and
// publishers by kind, read at scrape time.
type rtspAuthCollector struct {
	srv  *ingest.Server
	desc *prometheus.Desc
}

func newRTSPAuthCollector(srv *ingest.Server) *rtspAuthCollector {
	return &rtspAuthCollector{srv: srv, desc: prometheus.NewDesc("diemcau_rtsp_auth_failures_total",
		"RTSP logins refused, by kind: read_credentials (unknown or revoked), read_forbidden (not for that path), "+
			"publish_credentials (an encoder's wrong password), publish_busy (a second encoder for a source).",
		[]string{"kind"}, nil)}
}

func (c *rtspAuthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *rtspAuthCollector) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range c.srv.AuthFailures() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), kind)
	}
}
