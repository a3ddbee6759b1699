package whep

import (
	"embed"
	"net/http"

	"diemcau/pipeline"
)

// The viewer and join pages are plain HTML, CSS and JavaScript embedded in
// the binary: no build step, nothing fetched from elsewhere. rtc.js is the
// one WebRTC client (WHEP player, WHIP publisher) every page loads,
// the operator console included.
//
//go:embed web
var pageFiles embed.FS

// pageAssets are the files served under /watch/assets/, with their types.
var pageAssets = map[string]string{
	"watch.js":    "text/javascript; charset=utf-8",
	"join.js":     "text/javascript; charset=utf-8",
	"rtc.js":      "text/javascript; charset=utf-8",
	"watch.css":   "text/css; charset=utf-8",
	"join.css":    "text/css; charset=utf-8",
	"display.js":  "text/javascript; charset=utf-8",
	"display.css": "text/css; charset=utf-8",
}

func registerPage(handle func(pattern string, h http.Handler)) {
	handle("GET /watch/{session}", servePage("web/watch.html"))
	handle("GET /join/{session}", servePage("web/join.html"))
	handle("GET /display", servePage("web/display.html"))
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

// servePage serves one page of a session; the page itself asks the server
// what its token may do.
func servePage(file string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.PathValue("session"); id != "" && !pipeline.ValidID(id) {
			http.Error(w, "no such session", http.StatusNotFound)
			return
		}
		b, err := pageFiles.ReadFile(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		pageHeaders(w, "text/html; charset=utf-8")
		_, _ = w.Write(b)
	})
}

func serveWatchAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ct, ok := pageAssets[name]
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
