package whep

import (
	"embed"
	"net/http"
	"regexp"
)

// The viewer page is plain HTML, CSS and JavaScript embedded in the binary:
// no build step, nothing fetched from elsewhere.
//
//go:embed web/watch.html web/watch.js web/watch.css
var pageFiles embed.FS

var sessionID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func registerPage(handle func(pattern string, h http.Handler)) {
	handle("GET /watch/{session}", http.HandlerFunc(serveWatchPage))
	handle("GET /watch/assets/{file}", http.HandlerFunc(serveWatchAsset))
}

func pageHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	// The invite token lives in the URL fragment, which browsers never
	// send; no-referrer keeps the page URL itself out of other sites' logs.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; media-src 'self' blob: mediastream:; img-src 'self' data:; frame-ancestors 'self'")
}

func serveWatchPage(w http.ResponseWriter, r *http.Request) {
	if !sessionID.MatchString(r.PathValue("session")) {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	b, err := pageFiles.ReadFile("web/watch.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pageHeaders(w, "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

func serveWatchAsset(w http.ResponseWriter, r *http.Request) {
	types := map[string]string{
		"watch.js":  "text/javascript; charset=utf-8",
		"watch.css": "text/css; charset=utf-8",
	}
	name := r.PathValue("file")
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := pageFiles.ReadFile("web/" + name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pageHeaders(w, ct)
	_, _ = w.Write(b)
}
