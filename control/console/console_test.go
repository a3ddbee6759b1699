package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	Register(func(p string, h http.Handler) { mux.Handle(p, h) })
	return mux
}

func get(t *testing.T, mux http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Result()
}

func TestServesFiles(t *testing.T) {
	mux := newMux()
	cases := []struct {
		name, method, path string
		status             int
		ctype, contains    string
	}{
		{"index at root", "GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="/console/app.js">`},
		{"head of root", "HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"script", "GET", "/console/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"module", "GET", "/console/whep.js", 200, "text/javascript; charset=utf-8", "/watch/assets/rtc.js"},
		{"style", "GET", "/console/console.css", 200, "text/css; charset=utf-8", ":root"},
		{"unknown asset", "GET", "/console/nothing.js", 404, "", ""},
		{"no directory listing", "GET", "/console/", 404, "", ""},
		{"no traversal", "GET", "/console/..%2fconsole.go", 404, "", ""},
		{"go source not served", "GET", "/console/console.go", 404, "", ""},
		{"index only at its own path", "GET", "/console/index.html", 404, "", ""},
		{"other paths are not the console", "GET", "/elsewhere", 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, mux, tc.method, tc.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "ETag"} {
				if res.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if tc.method == "GET" && !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
		})
	}
}

// TestRevalidates: a browser that has the console already gets 304.
func TestRevalidates(t *testing.T) {
	mux := newMux()
	first := get(t, mux, "GET", "/console/app.js", nil)
	etag := first.Header.Get("ETag")
	again := get(t, mux, "GET", "/console/app.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", again.StatusCode)
	}
}

// TestEveryAssetReachable: every file the page loads (the HTML's links and
// each module's imports) is served, and no embedded file is unreachable.
func TestEveryAssetReachable(t *testing.T) {
	mux := newMux()
	web, _ := fs.Sub(files, "web")
	ref := regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"|from '\./([^']+)'`)
	seen := map[string]bool{"index.html": true}
	queue := []string{"index.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		b, err := fs.ReadFile(web, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			p := strings.TrimPrefix(m[1], "/console/") + m[2]
			if seen[p] {
				continue
			}
			seen[p] = true
			queue = append(queue, p)
			if res := get(t, mux, "GET", "/console/"+p, nil); res.StatusCode != 200 {
				t.Errorf("%s references %s: status %d", name, p, res.StatusCode)
			}
		}
	}
	_ = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !seen[p] {
			t.Errorf("%s is embedded but nothing loads it", p)
		}
		return nil
	})
}

// TestNoTokenInURLs: the operator token travels only in the Authorization
// header; no file builds a URL with a token in its query or fragment.
func TestNoTokenInURLs(t *testing.T) {
	web, _ := fs.Sub(files, "web")
	bad := regexp.MustCompile(`(?i)[?&#](access_)?token=|searchParams\.(set|append)\(\s*['"]token`)
	_ = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(web, p)
		if m := bad.Find(b); m != nil {
			t.Errorf("%s builds a URL with a token: %q", p, m)
		}
		if strings.Contains(string(b), "localStorage.setItem('diemcau.token'") {
			t.Errorf("%s keeps the token in localStorage (it must stay in this tab's sessionStorage)", p)
		}
		return nil
	})
	// Were the script not to run, a plain form submit would put named
	// fields in the URL: the token field has no name, so it never goes.
	page, _ := fs.ReadFile(web, "index.html")
	if m := regexp.MustCompile(`<input[^>]*id="token"[^>]*>`).Find(page); m == nil || strings.Contains(string(m), "name=") {
		t.Errorf("token input %q: want one, without a name", m)
	}
}
