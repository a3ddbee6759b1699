// Package console serves the operator console: the page at "/" from which
// operators run sessions. It is plain HTML, CSS and JavaScript embedded in
// the binary (no build step, nothing fetched from elsewhere), a client of the
// /api/v1 control plane and of WHEP; it adds no server logic of its own.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed web
var files embed.FS

// assetTypes are the files the console serves, by extension; anything else
// under web/ is not served.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Register mounts the console on a mux, e.g. control.Server.Handle: the page
// at exactly "/" and its assets under /console/.
func Register(handle func(pattern string, h http.Handler)) {
	web, _ := fs.Sub(files, "web")
	h := handler{fs: web, etags: etags(web)}
	handle("GET /{$}", http.HandlerFunc(h.serveIndex))
	handle("GET /console/{file...}", http.HandlerFunc(h.serveAsset))
}

type handler struct {
	fs    fs.FS
	etags map[string]string
}

// etags hashes every embedded file once, so browsers revalidate cheaply
// (304) instead of downloading the console again on every visit.
func etags(web fs.FS) map[string]string {
	out := map[string]string{}
	_ = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	return out
}

func (h handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	h.serveFile(w, r, "index.html")
}

func (h handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "index.html" || path.Clean(name) != name {
		http.NotFound(w, r)
		return
	}
	h.serveFile(w, r, name)
}

func (h handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	ct, ok := assetTypes[path.Ext(name)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.fs, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", h.etags[name])
	hd.Set("X-Content-Type-Options", "nosniff")
	// The operator token lives in sessionStorage and travels only in the
	// Authorization header; no-referrer and a strict CSP keep the page from
	// leaking anything to, or loading anything from, elsewhere.
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; media-src 'self' blob: mediastream:; "+
		"img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
