package ingest

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"

	"diemcau/pipeline"
)

// What the API and the config need to know of sim://NAME sources without
// building them; the source itself, which encodes with GStreamer, is
// ingest/sim, so that this package and those above it need no cgo.

// SimToneHz is the tone of a sim source called name: 200–1995 Hz in 5 Hz
// steps, a whole number of cycles in any whole-second loop, so the sine
// does not click at the loop seam.
func SimToneHz(name string) float64 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return float64(200 + h.Sum32()%360*5)
}

// ParseSimURL reads sim://NAME[?pattern=avsync]: NAME names the point (and
// picks its tone); the only query is pattern, whose one value is avsync (a
// white flash and a beep at the start of every second, see pipeline.PatternAVSync).
func ParseSimURL(raw string) (name, pattern string, err error) {
	rest, ok := strings.CutPrefix(raw, "sim://")
	if !ok {
		return "", "", fmt.Errorf("%q: want sim://NAME", raw)
	}
	name, query, _ := strings.Cut(rest, "?")
	if name == "" || strings.ContainsAny(name, "/#") {
		return "", "", fmt.Errorf("%q: want sim://NAME, NAME without / or #", raw)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("%q: query: %w", raw, err)
	}
	for k, v := range q {
		switch {
		case k != "pattern":
			return "", "", fmt.Errorf("%q: unknown query %q, want pattern=%s", raw, k, pipeline.PatternAVSync)
		case len(v) != 1 || v[0] != pipeline.PatternAVSync:
			return "", "", fmt.Errorf("%q: pattern=%s, want pattern=%s", raw, strings.Join(v, ","), pipeline.PatternAVSync)
		}
		pattern = v[0]
	}
	return name, pattern, nil
}
