package srt

import (
	"errors"
	"strings"
)

// parseStreamID reads the source id a caller publishes to: SRT's access
// control syntax "#!::r=ingest/{id},m=publish" (keys in any order; other
// keys such as u= ignored), or plain "ingest/{id}" as simple encoders
// take it. A mode other than publish is refused: this listener only
// ingests.
func parseStreamID(sid string) (id string, err error) {
	resource := sid
	if rest, ok := strings.CutPrefix(sid, "#!::"); ok {
		resource = ""
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "r":
				resource = v
			case "m":
				if v != "publish" {
					return "", errModeNotPublish
				}
			}
		}
	}
	resource = strings.TrimPrefix(resource, "/")
	id, ok := strings.CutPrefix(resource, "ingest/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errors.New(`want "#!::r=ingest/{id},m=publish" or "ingest/{id}"`)
	}
	return id, nil
}

var errModeNotPublish = errors.New("mode is not publish (m=publish): this listener only takes encoders")

// printableStreamID is a stream id fit for a log line: a caller may send
// anything up to 512 bytes.
func printableStreamID(sid string) string {
	const maxLen = 80
	if len(sid) > maxLen {
		sid = sid[:maxLen] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, sid)
}
