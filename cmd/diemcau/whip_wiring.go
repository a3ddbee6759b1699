package main

import (
	"net/http"

	"diemcau/control"
	"diemcau/control/whep"
	"diemcau/ingest"
)

// whipSources finds the running whip:// sources WHIP publishers feed.
func whipSources(reg *ingest.Registry) whep.WHIPSources {
	return func(id string) (*ingest.WHIPSource, bool) {
		src, ok := reg.Get(id)
		if !ok {
			return nil, false
		}
		w, ok := src.(*ingest.WHIPSource)
		return w, ok
	}
}

// whipAuthorizer: a whip:// source's publish secret, or a standing invite
// made for a point whose source it is. The grant goes with the publisher
// so that revoking the invite or ending the session ends it.
func whipAuthorizer(api *control.Server) whep.PublishAuthorizer {
	return func(r *http.Request, source string) (whep.Grant, error) {
		g, err := api.AuthorizeWHIP(r, source)
		if err != nil {
			status, msg := control.WHIPStatus(err)
			return whep.Grant{}, &whep.Refusal{Status: status, Message: msg}
		}
		return whep.Grant{Who: g.Who(), Invite: g.Invite, Session: g.Session}, nil
	}
}
