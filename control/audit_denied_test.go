package control

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
	"diemcau/internal/testkit"
)

// TestDeniedAudited: a burst of refused requests (wrong token, too low a
// role, a 401 from a handler of another package such as WHEP) is audited
// as one entry and logged as one line per period, with counts by address
// and path; a period without refusals writes nothing.
func TestDeniedAudited(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, ctx)
	var logs testkit.LogBuffer
	tokens := []Token{
		{Name: "op", Role: RoleOperator, SHA256: sha256.Sum256([]byte("op-token"))},
		{Name: "tv", Role: RoleViewer, SHA256: sha256.Sum256([]byte("viewer-token"))},
	}
	s, err := New(Config{Listen: "127.0.0.1:0", Tokens: tokens}, slog.New(slog.NewTextHandler(&logs, nil)), Deps{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("POST /whep/sessions/{id}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	const period = 400 * time.Millisecond
	s.denied.every = period
	testkit.Start(t, "server", s.Run).WaitReady(s.Listening(), 5*time.Second)
	base := "http://" + s.Addr().String()

	request := func(from, method, path, token string) int {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest(method, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for range 30 {
		request("127.0.0.2", "GET", "/api/v1/sessions", "guess")
	}
	for range 3 {
		request("127.0.0.3", "POST", "/api/v1/sessions", "viewer-token") // 403
	}
	for range 5 {
		request("127.0.0.4", "POST", "/whep/sessions/demo", "")
	}
	if got := request("127.0.0.2", "GET", "/api/v1/sessions", "op-token"); got != http.StatusOK {
		t.Fatalf("a good request: %d", got)
	}

	var entries []store.Audit
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := st.ListAudit(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		entries = entries[:0]
		for _, a := range all {
			if a.Method == DeniedMethod {
				entries = append(entries, a)
			}
		}
		if len(entries) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * period) // quiet periods: nothing more is written
	all, _ := st.ListAudit(ctx, 0, 100)
	n := 0
	for _, a := range all {
		if a.Method == DeniedMethod {
			n++
		}
	}
	if len(entries) != 1 || n != 1 {
		t.Fatalf("%d summary entries (%d after quiet periods), want 1: %+v", len(entries), n, entries)
	}
	e := entries[0]
	for _, want := range []string{
		"38 requests refused",
		"127.0.0.2 GET /api/v1/sessions 401 ×30",
		"127.0.0.4 POST /whep/sessions/demo 401 ×5",
		"127.0.0.3 POST /api/v1/sessions 403 ×3",
	} {
		if !strings.Contains(e.Detail, want) {
			t.Errorf("summary %q lacks %q", e.Detail, want)
		}
	}
	if e.Result != http.StatusUnauthorized || e.Target != "127.0.0.2" || e.Path != "/api/v1/sessions" {
		t.Errorf("entry %+v: want result 401, the most frequent address and path", e)
	}
	if strings.Contains(e.Detail, "guess") || strings.Contains(logs.String(), "guess") {
		t.Error("a guessed token was written down")
	}
	if lines := strings.Count(logs.String(), "requests refused (401/403)"); lines != 1 {
		t.Errorf("%d log lines for the refusals, want 1:\n%s", lines, logs.String())
	}
}

// TestDeniedBounded: a flood of distinct paths keeps a bounded summary.
func TestDeniedBounded(t *testing.T) {
	var d deniedLog
	d.note("192.0.2.1:5", "GET", "/\x1b[2J"+strings.Repeat("p", 500), 401)
	for i := range maxDeniedKeys + 500 {
		d.note("192.0.2.1:5", "GET", "/api/v1/x"+strings.Repeat("y", i%7)+string(rune('a'+i%26))+strings.Repeat("z", i/26), 401)
	}
	counts, other, _ := d.take()
	if len(counts) > maxDeniedKeys || other == 0 {
		t.Errorf("%d keys kept and %d counted past them, want at most %d and some", len(counts), other, maxDeniedKeys)
	}
	for k := range counts {
		if len(k.path) > maxDeniedPath+len("…") || strings.ContainsRune(k.path, 0x1b) {
			t.Errorf("path kept as %q", k.path)
		}
	}
}
