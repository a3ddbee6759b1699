package ingest

import (
	"net/url"
	"regexp"
	"strings"
)

// RedactURL replaces the credentials of a URL with "***" so it can be shown
// in logs and API output: the user info (user:pass@) and the credentials
// IP cameras take in the path or query instead (/user=admin&password=…,
// XMeye's /user=admin_password=…_channel=1, Foscam's ?usr=…&pwd=…,
// ?token=…, SRT's ?passphrase=…). A string that does not parse has
// anything that looks like user info masked.
func RedactURL(raw string) string {
	return redactParams(redactUserinfo(raw))
}

func redactUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return userinfoPattern.ReplaceAllString(raw, "$1***@")
	}
	if u.User == nil {
		return raw
	}
	u.User = nil
	// Build by hand: url.UserPassword would percent-encode the asterisks.
	// Without a host (push://user:pass@) String drops the "//" too.
	rest := strings.TrimPrefix(strings.TrimPrefix(u.String(), u.Scheme+":"), "//")
	return u.Scheme + "://***@" + rest
}

var userinfoPattern = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@`)

// credentialParam finds "name=" of a parameter that carries a credential,
// at the start of a path segment or parameter. Names that identify the
// account are masked in URLs too, as user info is.
var credentialParam = regexp.MustCompile(`(?i)(?:^|[/?&;_])(` + secretNames + `|user|username|usr|login|account|userid|user_id)=`)

// secretParam is the same for names whose values are secrets, which are
// also masked wherever they appear in an error message.
var secretParam = regexp.MustCompile(`(?i)(?:^|[/?&;_])(` + secretNames + `)=`)

const secretNames = `password|passwd|pass|pwd|psw|pw|passphrase|passcode|token|access_token|auth|authkey|secret|key|apikey|api_key|sig|signature`

// nextParam is an "_name=" that ends a value in the XMeye form.
var nextParam = regexp.MustCompile(`^_[a-zA-Z][a-zA-Z0-9]*=`)

// paramValues returns the [start, end) of every value of a parameter p
// matches in s.
func paramValues(s string, p *regexp.Regexp) [][2]int {
	var out [][2]int
	for _, m := range p.FindAllStringIndex(s, -1) {
		start, end := m[1], m[1]
		for end < len(s) && !strings.ContainsRune("&;#?/ \t\r\n\"'", rune(s[end])) {
			if s[end] == '_' && nextParam.MatchString(s[end:]) {
				break
			}
			end++
		}
		if end > start {
			out = append(out, [2]int{start, end})
		}
	}
	return out
}

// redactParams masks the values of credential parameters.
func redactParams(s string) string {
	spans := paramValues(s, credentialParam)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString("***")
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// urlSecrets are the secrets of a URL: the password of its user info and
// the values of its secret parameters.
func urlSecrets(rawURL string) []string {
	var out []string
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw)
		}
	}
	for _, sp := range paramValues(rawURL, secretParam) {
		v := rawURL[sp[0]:sp[1]]
		out = append(out, v)
		if dec, err := url.QueryUnescape(v); err == nil && dec != v {
			out = append(out, dec)
		}
	}
	return out
}

// RedactError masks credentials of url in an error message; gortsplib and
// net errors may quote the URL they were given, whole or in parts.
func RedactError(err error, rawURL string) string {
	if err == nil {
		return ""
	}
	msg := strings.ReplaceAll(err.Error(), rawURL, RedactURL(rawURL))
	for _, secret := range urlSecrets(rawURL) {
		msg = strings.ReplaceAll(msg, secret, "***")
	}
	return redactParams(msg)
}
