package whep

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// maxOffer bounds an SDP offer; browsers send 3 to 10 KiB.
const maxOffer = 64 << 10

// offeredCodec is one payload type of an m-line.
type offeredCodec struct {
	pt       uint8
	name     string // upper case: H264, OPUS, PCMU
	clock    int
	channels int
	fmtp     map[string]string
}

// offer is what the server needs of a WHEP offer, checked before any
// resource is made.
type offer struct {
	sdp        string
	video      []offeredCodec // of the first video m-line the viewer receives on
	audio      []offeredCodec // nil: the viewer asked for no audio
	audioOffer bool
}

// readOffer takes a WHEP or WHIP request's SDP offer (Content-Type
// application/sdp, at most maxOffer bytes) and parses it with parse.
func readOffer[O any](r *http.Request, parse func([]byte) (O, *httpError)) (O, *httpError) {
	var none O
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		return none, errorf(http.StatusUnsupportedMediaType, "bad_content_type", "send the SDP offer as Content-Type: application/sdp")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOffer+1))
	if err != nil {
		return none, errorf(http.StatusBadRequest, "bad_body", "read the offer: %v", err)
	}
	if len(body) > maxOffer {
		return none, errorf(http.StatusRequestEntityTooLarge, "too_large", "the offer is over %d KiB", maxOffer>>10)
	}
	return parse(body)
}

// unmarshalOffer parses an offer and checks what every WebRTC offer needs,
// whichever way its media go: ICE credentials and a DTLS fingerprint, on
// the session or on a media line.
func unmarshalOffer(body []byte) (*sdp.SessionDescription, *httpError) {
	var sd sdp.SessionDescription
	if len(body) == 0 {
		return nil, errorf(http.StatusBadRequest, "bad_sdp", "empty body: send the SDP offer")
	}
	if err := sd.Unmarshal(body); err != nil {
		return nil, errorf(http.StatusBadRequest, "bad_sdp", "the body is not an SDP offer: %v", err)
	}
	_, credentials := sd.Attribute("ice-ufrag")
	_, fingerprint := sd.Attribute("fingerprint")
	for _, md := range sd.MediaDescriptions {
		_, ufrag := md.Attribute("ice-ufrag")
		_, fp := md.Attribute("fingerprint")
		credentials, fingerprint = credentials || ufrag, fingerprint || fp
	}
	switch {
	case !credentials:
		return nil, errorf(http.StatusBadRequest, "bad_sdp", "the offer has no ICE credentials (a=ice-ufrag)")
	case !fingerprint:
		return nil, errorf(http.StatusBadRequest, "bad_sdp", "the offer has no DTLS fingerprint (a=fingerprint)")
	}
	return &sd, nil
}

func parseOffer(body []byte) (*offer, *httpError) {
	sd, herr := unmarshalOffer(body)
	if herr != nil {
		return nil, herr
	}
	o := &offer{sdp: string(body)}
	var sawVideo bool
	for _, md := range sd.MediaDescriptions {
		if _, receives := direction(md); md.MediaName.Port.Value == 0 || !receives {
			continue
		}
		switch md.MediaName.Media {
		case "video":
			sawVideo = true
			if o.video == nil {
				o.video = codecsOf(md)
			}
		case "audio":
			if !o.audioOffer {
				o.audioOffer = true
				o.audio = codecsOf(md)
			}
		}
	}
	if !sawVideo {
		return nil, errorf(http.StatusBadRequest, "no_video", "the offer has no video m-line the viewer receives on (a=recvonly or a=sendrecv)")
	}
	return o, nil
}

// direction reads an m-line's direction as the offerer means it: whether
// it sends and whether it wants to receive on it.
func direction(md *sdp.MediaDescription) (sends, receives bool) {
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendrecv":
			return true, true
		case "sendonly":
			return true, false
		case "recvonly":
			return false, true
		case "inactive":
			return false, false
		}
	}
	return true, true // sendrecv is the default
}

func codecsOf(md *sdp.MediaDescription) []offeredCodec {
	byPT := map[uint8]*offeredCodec{}
	var order []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		order = append(order, uint8(pt))
		c := &offeredCodec{pt: uint8(pt), fmtp: map[string]string{}}
		// Static payload types need no rtpmap (RFC 3551).
		switch pt {
		case 0:
			c.name, c.clock, c.channels = "PCMU", 8000, 1
		case 8:
			c.name, c.clock, c.channels = "PCMA", 8000, 1
		}
		byPT[uint8(pt)] = c
	}
	for _, a := range md.Attributes {
		ptStr, rest, ok := strings.Cut(a.Value, " ")
		if !ok || (a.Key != "rtpmap" && a.Key != "fmtp") {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil {
			continue
		}
		c := byPT[uint8(pt)]
		if c == nil {
			continue
		}
		if a.Key == "rtpmap" {
			parts := strings.Split(strings.TrimSpace(rest), "/")
			c.name = strings.ToUpper(parts[0])
			if len(parts) > 1 {
				c.clock, _ = strconv.Atoi(parts[1])
			}
			c.channels = 1
			if len(parts) > 2 {
				c.channels, _ = strconv.Atoi(parts[2])
			}
			continue
		}
		for _, kv := range strings.Split(rest, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			c.fmtp[strings.ToLower(k)] = v
		}
	}
	out := make([]offeredCodec, 0, len(order))
	for _, pt := range order {
		if c := byPT[pt]; c.name != "" {
			out = append(out, *c)
		}
	}
	return out
}
