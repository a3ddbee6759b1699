// Package exchange is the client side of the WHIP and WHEP exchange (RFC
// 9725; the WHEP draft shares it): POST an SDP offer with a Bearer token,
// get the SDP answer and the resource's URL; DELETE that URL to end the
// session at once rather than wait for the server to time it out; NewAPI
// is the pion API a client makes its peer with, as a browser's. A point
// node's WHIP client and WHEP puller, the pre-session check's WebRTC leg
// and the lip-sync meter all use it.
package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswer bounds the answer read: an SDP is a few KiB.
const maxAnswer = 1 << 20

// DeleteWithin bounds a DELETE: it is best effort, and a server that does
// not answer times the peer out by itself.
const DeleteWithin = 2 * time.Second

// Post sends offer to endpoint and returns the answer and the resource's
// absolute URL. Anything but 201 with a Location and a body is an error
// carrying the status and the first line of the server's reason; transport
// errors leave the URL out (the caller knows it, and logs need not).
func Post(ctx context.Context, client *http.Client, endpoint, token, sdp string) (answer, resource string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(sdp))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return "", "", WithoutURL(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	switch {
	case res.StatusCode != http.StatusCreated:
		return "", "", fmt.Errorf("%s: %s", res.Status, Reason(body))
	case len(body) == 0:
		return "", "", errors.New("201 with an empty answer")
	}
	loc, err := res.Location()
	if err != nil {
		return "", "", fmt.Errorf("201 without Location: %w", err)
	}
	return string(body), loc.String(), nil
}

// Delete ends resource on its server, best effort, within DeleteWithin.
func Delete(client *http.Client, resource, token string) {
	if resource == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), DeleteWithin)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, resource, nil)
	if err != nil {
		return
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
	}
}

// WithoutURL drops the URL from an HTTP transport error: the caller knows
// it, and a log line need not repeat it.
func WithoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Reason is the first line of a refusal's body, short enough for a status
// line.
func Reason(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
