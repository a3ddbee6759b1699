package ingest

import (
	"errors"
	"fmt"
	"net/url"
)

// SRT passphrase bounds: libsrt refuses a passphrase outside them
// (SRTO_PASSPHRASE), so an encoder could never be configured with one.
const (
	SRTMinPassphrase = 10
	SRTMaxPassphrase = 79
)

// ParseSRTURL reads a srt:// source URL, "srt://:PASSPHRASE@": the AES
// passphrase the encoder must use. "srt://" (no passphrase) lets anyone
// who reaches the SRT port publish into the source and its record, and is
// refused unless allowAnonymous. The URL is never quoted in an error: it
// holds the passphrase.
func ParseSRTURL(raw string, allowAnonymous bool) (passphrase string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("cannot parse the srt:// URL (a passphrase with @ / # ? or % must be percent-encoded)")
	}
	if u.Scheme != "srt" {
		return "", fmt.Errorf("want srt:// (got %s://…)", u.Scheme)
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("srt:// takes only the passphrase (srt://:PASSPHRASE@); encoders call srt://HOST:8890 with streamid ingest/{id}")
	}
	if u.User == nil {
		if !allowAnonymous {
			return "", errors.New("srt:// without a passphrase lets anyone who reaches the SRT port publish into this source and its record; write srt://:PASSPHRASE@, or set allow_anonymous")
		}
		return "", nil
	}
	if u.User.Username() != "" {
		return "", errors.New("srt:// takes a passphrase, not a user name: write srt://:PASSPHRASE@")
	}
	pass, _ := u.User.Password()
	if n := len(pass); n < SRTMinPassphrase || n > SRTMaxPassphrase {
		return "", fmt.Errorf("the SRT passphrase must be %d to %d characters (got %d): encoders refuse any other", SRTMinPassphrase, SRTMaxPassphrase, n)
	}
	return pass, nil
}
