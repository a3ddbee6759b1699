package gst

import (
	"strings"
	"unicode/utf8"
)

// markupText makes text safe for textoverlay's text property, which
// GStreamer always parses as Pango markup: a label with "&" or "<" fails
// to parse and nothing is drawn, and one with tags would be styled by
// whoever typed it. Escaped by GLib's rules (g_markup_escape_text);
// invalid UTF-8 is replaced and control characters other than newline and
// tab are dropped, since the markup parser refuses them even as
// references.
func markupText(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\'':
			b.WriteString("&#39;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
