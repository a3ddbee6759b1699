package ingest

import (
	"net/url"
	"regexp"
	"strings"
)

// RedactURL replaces the credentials of a URL with "***" so it can be shown
// in logs and API output. A string that does not parse has anything that
// looks like userinfo masked.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return userinfoPattern.ReplaceAllString(raw, "$1***@")
	}
	if u.User == nil {
		return raw
	}
	u.User = nil
	// Build by hand: url.UserPassword would percent-encode the asterisks.
	s := u.String()
	prefix := u.Scheme + "://"
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return prefix + "***@" + s[len(prefix):]
	}
	return s
}

var userinfoPattern = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@`)

// RedactError masks credentials of url in an error message; gortsplib and
// net errors may quote the URL they were given.
func RedactError(err error, rawURL string) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return msg
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "***")
	}
	return strings.ReplaceAll(msg, rawURL, RedactURL(rawURL))
}
