package testkit

import (
	"io"
	"net/http"
	"testing"
)

// Scrape reads a server's Prometheus text at base + "/metrics".
func Scrape(t testing.TB, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return string(raw)
}
