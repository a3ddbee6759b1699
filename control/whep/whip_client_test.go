package whep

import (
	"context"
	"time"

	"diemcau/bench/whipclient"
)

// whipClip is the test clip as a WHIP publisher sends it.
func (c *testClip) whipClip() *whipclient.Clip {
	return &whipclient.Clip{AUs: c.aus, Keys: c.keys, SPS: c.sps, PPS: c.pps, FPS: c.fps, Opus: c.opus}
}

// publish is a pion WHIP publisher of the test clip (bench/whipclient).
func publish(ctx context.Context, clip *testClip, base, path, token string, o whipclient.Options) (*whipclient.Publisher, error) {
	api, err := whipclient.NewAPI()
	if err != nil {
		return nil, err
	}
	return whipclient.Publish(ctx, api, base+path, token, clip.whipClip(), o)
}

// unpublish DELETEs the publisher's resource within a few seconds.
func unpublish(p *whipclient.Publisher) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Close(ctx)
}
