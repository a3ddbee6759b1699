package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"diemcau/control"
	"diemcau/control/checks"
	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/ingest"
)

// webrtcCheck is the WebRTC leg of a pre-session check: a WHEP viewer made
// by the server on itself, over its real HTTP and ICE ports. A running
// session's composite is watched; before the session (the usual case: the
// day before, two hours before) one of its points' feeds is, which crosses
// the same network path.
func webrtcCheck(api *control.Server, tlsOn bool, token string, st *store.Store, mgr *sessions.Manager, sources *ingest.Registry) func(context.Context, string) error {
	client := &http.Client{}
	scheme := "http"
	if tlsOn {
		scheme = "https"
		// Loopback to ourselves: the certificate is for the public name.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	return func(ctx context.Context, sessionID string) error {
		addr, ok := api.Addr().(*net.TCPAddr)
		if !ok {
			return errors.New("the HTTP server is not listening")
		}
		base := fmt.Sprintf("%s://127.0.0.1:%d", scheme, addr.Port)
		if _, running := mgr.Running(sessionID); running {
			return checks.WHEPViewer(ctx, client, base+"/whep/sessions/"+sessionID, token)
		}
		sess, err := st.GetSession(ctx, sessionID)
		if err != nil {
			return err
		}
		for _, p := range sess.Points {
			if s, ok := sources.Status(p.Source); ok && s.State == ingest.StateOnline {
				if err := checks.WHEPViewer(ctx, client, base+"/whep/sources/"+p.Source, token); err != nil {
					return fmt.Errorf("viewer of point %s's feed (the session is not running): %w", p.ID, err)
				}
				return nil
			}
		}
		return errors.New("no point is online and the session is not running: nothing to watch")
	}
}
