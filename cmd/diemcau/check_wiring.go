package main

import (
	"context"
	"errors"
	"fmt"

	"diemcau/control"
	"diemcau/control/checks"
	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/control/whep"
	"diemcau/ingest"
)

// webrtcCheck is the WebRTC leg of a pre-session check: a WHEP viewer made
// by the server on itself, over its real HTTP and ICE ports. A running
// session's composite is watched; before the session (the usual case: the
// day before, two hours before) one of its points' feeds is, which crosses
// the same network path. It talks only to this process: the HTTP
// connection is proved to be one this server accepted before the token is
// sent (control.Server.SelfClient), and the answer must carry this WHEP
// server's DTLS fingerprint.
func webrtcCheck(api *control.Server, viewers *whep.Server, token string, st *store.Store, mgr *sessions.Manager, sources *ingest.Registry) func(context.Context, string) error {
	return func(ctx context.Context, sessionID string) error {
		client, base, err := api.SelfClient()
		if err != nil {
			return err
		}
		defer client.CloseIdleConnections()
		fps := viewers.Fingerprints()
		if len(fps) == 0 {
			return errors.New("the WebRTC server is not running")
		}
		if _, running := mgr.Running(sessionID); running {
			return checks.WHEPViewerOf(ctx, client, base+"/whep/sessions/"+sessionID, token, fps)
		}
		sess, err := st.GetSession(ctx, sessionID)
		if err != nil {
			return err
		}
		for _, p := range sess.Points {
			if s, ok := sources.Status(p.Source); ok && s.State == ingest.StateOnline {
				if err := checks.WHEPViewerOf(ctx, client, base+"/whep/sources/"+p.Source, token, fps); err != nil {
					return fmt.Errorf("viewer of point %s's feed (the session is not running): %w", p.ID, err)
				}
				return nil
			}
		}
		return errors.New("no point is online and the session is not running: nothing to watch")
	}
}
