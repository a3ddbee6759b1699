package whep

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestPagesAndAssets: the viewer and join pages are served, every file
// they load (links and module imports) is served with its type, and no
// embedded file is left unloaded.
func TestPagesAndAssets(t *testing.T) {
	ts := startServer(t, Config{})
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(ts.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, tc := range []struct{ path, want string }{
		{"/watch/demo", `src="/watch/assets/watch.js"`},
		{"/join/demo", `src="/watch/assets/join.js"`},
		{"/display", `src="/watch/assets/display.js"`},
	} {
		res, body := get(tc.path)
		if res.StatusCode != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, body has %q: %v", tc.path, res.StatusCode, tc.want, strings.Contains(body, tc.want))
		}
		if res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: Referrer-Policy %q, want no-referrer (the token is in the fragment)", tc.path, res.Header.Get("Referrer-Policy"))
		}
	}
	if res, _ := get("/join/Bad_Id"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /join/Bad_Id: %d, want 404", res.StatusCode)
	}
	if res, _ := get("/watch/assets/page.go"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /watch/assets/page.go: %d, want 404", res.StatusCode)
	}

	web, _ := fs.Sub(pageFiles, "web")
	ref := regexp.MustCompile(`(?:src|href)="/watch/assets/([^"]+)"|from '\./([^']+)'`)
	seen := map[string]bool{"watch.html": true, "join.html": true, "display.html": true}
	queue := []string{"watch.html", "join.html", "display.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		b, err := fs.ReadFile(web, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			p := m[1] + m[2]
			if seen[p] {
				continue
			}
			seen[p] = true
			queue = append(queue, p)
			res, _ := get("/watch/assets/" + p)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != pageAssets[p] {
				t.Errorf("%s loads %s: status %d, type %q", name, p, res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
	}
	_ = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !seen[p] {
			t.Errorf("%s is embedded but no page loads it", p)
		}
		return nil
	})
}
